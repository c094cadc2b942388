from enum import StrEnum


class AttemptOutcome(StrEnum):
    CONNECT = "connect"
    DELIVERED = "delivered"
    DNS = "dns"
    HTTP_STATUS = "http_status"
    REFUSED_BY_POLICY = "refused_by_policy"
    TIMEOUT = "timeout"
    TLS = "tls"

    def __str__(self) -> str:
        return str(self.value)
