//! Logs and traces through `tracing`.
//!
//! Logs: human by default, JSON on request, filtered by `RUST_LOG` (default `info`).
//! Secrets never reach a log line: hooks, keys and configuration print redacted.
//!
//! Traces: OpenTelemetry over OTLP/HTTP, configured by the standard `OTEL_*` variables
//! and on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set. A W3C
//! `traceparent` travels with each event: from the producer (HTTP header or AMQP
//! header) through the queue to the worker, and with the stored event to every retry.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;

/// The header (HTTP and AMQP alike) a trace context travels in.
pub const TRACEPARENT: &str = "traceparent";

/// Keeps the trace exporter; dropping it sends the spans still buffered.
pub struct Traces(Option<SdkTracerProvider>);

impl Drop for Traces {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber (logs, and traces when configured); a second call is a
/// no-op (tests start many apps).
pub fn init(json: bool) -> Traces {
    // `RUST_LOG` filters the log lines only: spans go to the trace exporter at `info`
    // whatever the log level.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = if json {
        let layer = tracing_subscriber::fmt::layer().json().flatten_event(true);
        layer.with_filter(filter).boxed()
    } else {
        tracing_subscriber::fmt::layer().with_filter(filter).boxed()
    };
    let provider = tracer_provider();
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("hookpost"))
            .with_filter(LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
    Traces(provider)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The OTLP/HTTP exporter the `OTEL_*` variables describe, or `None` when they name no
/// endpoint (or turn traces off). `http/json` or, by default, `http/protobuf`.
fn tracer_provider() -> Option<SdkTracerProvider> {
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
    let endpoint =
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let off = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none");
    if endpoint.is_none() || off {
        return None;
    }
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .map_or(Protocol::HttpBinary, |p| match p.as_str() {
            "http/json" => Protocol::HttpJson,
            _ => Protocol::HttpBinary,
        });
    let exporter = match SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("hookpost: traces are off: the OTLP exporter does not build: {e}");
            return None;
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
    if !named {
        resource = resource.with_service_name("hookpost");
    }
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    )
}

/// The W3C `traceparent` of `span`, to carry to the next hop; `None` when it belongs to
/// no trace (traces off, say).
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` (not yet entered) a part of the trace `traceparent` names, if it is a
/// well-formed W3C `traceparent` (version 00); whether it was.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) -> bool {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let valid = cx.span().span_context().is_valid();
    if valid {
        let _ = span.set_parent(cx);
    }
    valid
}

/// Makes `span` (not yet entered) a part of the trace `traceparent` names, unless the
/// span it starts under is in that trace already (then it stays that one's child).
pub fn join_trace(span: &tracing::Span, traceparent: &str) {
    let current = tracing::Span::current().context();
    let current = current.span().span_context().trace_id().to_string();
    if traceparent.get(3..35) != Some(current.as_str()) {
        continue_trace(span, traceparent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_traceparents_are_taken() {
        let is_traceparent = |t: &str| continue_trace(&tracing::Span::none(), t);
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736",
        ] {
            assert!(!is_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn without_traces_a_span_has_no_traceparent() {
        assert_eq!(traceparent(&tracing::info_span!("x")), None);
    }
}
