//! The HTTP client under the API client (CLI → `hoist serve`) and the webhook sender
//! (daemon → receivers): ureq, blocking HTTP/1.1, over rustls with the ring provider.
//! Certificates are always verified: against the public CAs, and the CAs in the PEM file
//! `HOIST_CA_FILE` names (for a private CA) beside them. Neither caller follows redirects or
//! goes through a proxy from the environment (`HTTPS_PROXY`): both talk to the address
//! they were given. Failures are sorted (`Failure`) so each caller words its own message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::CertificateError;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// Names the PEM file of the extra CAs to trust.
pub const CA_FILE_VARIABLE: &str = "HOIST_CA_FILE";

const USER_AGENT: &str = concat!("hoist/", env!("CARGO_PKG_VERSION"));

/// How long a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving, connecting and the TLS handshake.
    pub connect: Duration,
    /// Each read from the connection.
    pub per_read: Option<Duration>,
    /// A whole exchange, up to the answer's head (and its body, when read).
    pub per_call: Option<Duration>,
}

/// A ureq agent with hoist's TLS roots; clones share its connection pool.
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing took the connection: refused, no address, no route, connecting timed out.
    Unreachable(String),
    /// The server's certificate was refused: why, in words, and what to do.
    Certificate { reason: String, hint: String },
    /// The TLS handshake failed for another reason than the certificate.
    Tls(String),
    /// The server answered the handshake with something that is not TLS.
    NotTls,
    /// What came back is not HTTP.
    NotHttp(String),
    /// The connection was lost or went quiet after it was made.
    Lost(String),
}

impl HttpClient {
    /// A client trusting the public CAs and those of `HOIST_CA_FILE` (when set and not empty).
    pub fn new(timeouts: Timeouts) -> Result<Self> {
        let ca_file = std::env::var_os(CA_FILE_VARIABLE)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        Self::with_ca_file(timeouts, ca_file)
    }

    /// A client trusting the public CAs and those in `ca_file`.
    pub fn with_ca_file(timeouts: Timeouts, ca_file: Option<PathBuf>) -> Result<Self> {
        let roots = match &ca_file {
            None => RootCerts::WebPki,
            Some(path) => {
                let mut roots = private_cas(path)?;
                roots.extend(
                    webpki_root_certs::TLS_SERVER_ROOT_CERTS
                        .iter()
                        .map(|der| Certificate::from_der(der.as_ref())),
                );
                RootCerts::from(roots)
            }
        };
        let agent = ureq::Agent::config_builder()
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .timeout_connect(Some(timeouts.connect))
            .timeout_per_read(timeouts.per_read)
            .timeout_per_call(timeouts.per_call)
            .build()
            .new_agent();
        Ok(Self { agent, ca_file })
    }

    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// Sorts a failed request's error.
    pub fn failure(&self, error: &ureq::Error) -> Failure {
        if let Some(tls) = rustls_error(error) {
            return match tls {
                rustls::Error::InvalidCertificate(certificate) => Failure::Certificate {
                    reason: certificate_reason(certificate),
                    hint: self.certificate_hint(certificate),
                },
                rustls::Error::InvalidMessage(_) => Failure::NotTls,
                other => Failure::Tls(other.to_string()),
            };
        }
        match error {
            ureq::Error::HostNotFound => Failure::Unreachable("the name has no address".into()),
            ureq::Error::ConnectionFailed => Failure::Unreachable("cannot connect".into()),
            ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
                Failure::Unreachable("connecting timed out".into())
            }
            ureq::Error::Timeout(_) => Failure::Lost("no answer in time".into()),
            ureq::Error::Io(io) if is_unreachable(io.kind()) => {
                Failure::Unreachable(io.to_string())
            }
            ureq::Error::Io(io) => Failure::Lost(io.to_string()),
            ureq::Error::Protocol(protocol) => Failure::NotHttp(protocol.to_string()),
            ureq::Error::LargeResponseHeader(..) => Failure::NotHttp(error.to_string()),
            other => Failure::Lost(other.to_string()),
        }
    }

    fn certificate_hint(&self, error: &CertificateError) -> String {
        match error {
            CertificateError::UnknownIssuer => match &self.ca_file {
                None => format!(
                    "if a private CA signed it, set `{CA_FILE_VARIABLE}` to a PEM file with \
                     that CA's certificate"
                ),
                Some(path) => format!(
                    "`{CA_FILE_VARIABLE}` (`{}`) does not hold the CA that signed it: add that \
                     CA's certificate to the file",
                    path.display()
                ),
            },
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "use a name the certificate holds in the URL, or give the server a certificate \
                 for this name"
                    .to_owned()
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                "renew the server's certificate, or check this machine's clock".to_owned()
            }
            _ => "check the certificate chain the server sends".to_owned(),
        }
    }
}

/// The certificates in the PEM file `path`; an error when it holds none.
fn private_cas(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let bad = |why: String| {
        Error::failed(format!("`{CA_FILE_VARIABLE}` `{}` {why}", path.display())).hint(format!(
            "give a PEM file with the certificates of the CAs to trust, or unset \
             `{CA_FILE_VARIABLE}`"
        ))
    };
    let text = std::fs::read(path).map_err(|error| bad(format!("cannot be read: {error}")))?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&text) {
        match item {
            Ok(PemItem::Certificate(certificate)) => certificates.push(certificate.to_owned()),
            Ok(_) => {} // a key or another PEM block beside the certificates
            Err(error) => return Err(bad(format!("is not valid PEM: {error}"))),
        }
    }
    if certificates.is_empty() {
        return Err(bad("holds no certificate".to_owned()));
    }
    Ok(certificates)
}

/// The rustls error under a ureq error: the handshake's come wrapped in an I/O error.
fn rustls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(tls) => Some(tls),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

fn is_unreachable(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::{
        AddrNotAvailable, ConnectionRefused, HostUnreachable, NetworkUnreachable,
    };
    matches!(
        kind,
        ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable
    )
}

/// Why a certificate was refused, in words.
fn certificate_reason(error: &CertificateError) -> String {
    let time = |at: rustls::pki_types::UnixTime| {
        i64::try_from(at.as_secs())
            .ok()
            .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
            .map(|at| at.to_string())
            .unwrap_or_else(|| "?".to_owned())
    };
    match error {
        CertificateError::UnknownIssuer => {
            "it is signed by an unknown certificate authority".to_owned()
        }
        CertificateError::NotValidForName => "it is not valid for this host name".to_owned(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().map(|name| presented_name(name)).collect();
            let names = if names.is_empty() {
                "no host".to_owned()
            } else {
                names.join(", ")
            };
            format!(
                "it is not valid for `{}` (it names {names})",
                expected.to_str()
            )
        }
        CertificateError::Expired => "it has expired".to_owned(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("it expired at {}", time(*not_after))
        }
        CertificateError::NotValidYet => "it is not valid yet".to_owned(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!("it is not valid before {}", time(*not_before))
        }
        CertificateError::Revoked => "it was revoked".to_owned(),
        other => format!("it is refused: {other}"),
    }
}

/// `DnsName("localhost")` or `IpAddress(127.0.0.1)`, as webpki words a name, → `` `localhost` ``.
fn presented_name(name: &str) -> String {
    name.strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .map_or_else(|| name.to_owned(), |bare| format!("`{bare}`"))
}

#[cfg(test)]
pub(crate) mod test_tls;
#[cfg(test)]
mod tests;
