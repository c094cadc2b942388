//! What registration checks of a hook URL's host: the rule delivery applies
//! ([`egress::permitted`]), with the name resolved now.

use crate::egress::{self, DnsFailure, NotPermitted};

/// Checks a hook URL's host as delivery will (`public_only` unless private targets are
/// allowed): an IP literal as it is, a name by resolving it now.
pub async fn check_target(url: &url::Url, public_only: bool) -> Result<(), NotPermitted> {
    match url.host() {
        Some(url::Host::Domain(name)) => egress::lookup(name, public_only).await.map(drop),
        Some(_) if public_only => egress::check_literal(url).map_err(NotPermitted::Refused),
        Some(_) => Ok(()),
        None => Err(NotPermitted::Dns(DnsFailure(
            url.to_string(),
            "the URL has no host".to_owned(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registration_checks_literals_and_names_with_the_same_rule() {
        let check = |u: &str| u.parse::<url::Url>().unwrap();
        let refused = |r: Result<(), NotPermitted>| matches!(r, Err(NotPermitted::Refused(_)));
        assert!(refused(
            check_target(&check("http://127.0.0.1:8080/"), true).await
        ));
        assert!(refused(
            check_target(&check("http://[2002:7f00:1::1]/"), true).await
        ));
        assert!(refused(
            check_target(&check("http://localhost:8080/"), true).await
        ));
        assert!(check_target(&check("http://localhost:8080/"), false)
            .await
            .is_ok());
        assert!(check_target(&check("http://8.8.8.8/"), true).await.is_ok());
        assert!(matches!(
            check_target(&check("http://does-not-exist.invalid/"), true).await,
            Err(NotPermitted::Dns(_))
        ));
    }
}
