//! TLS for tests, made at test time: a CA, server certificates it signs (current or
//! expired), a rustls server config for them, and a one-answer TLS server on 127.0.0.1.
//! Used by the unit tests of `http_client` and, through `#[path]`, by the integration tests.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority that exists only in this test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate (with the CA's behind it) and its key.
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("a self-signed CA"),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the CA's certificate as PEM to `path` (what `HOIST_CA_FILE` names).
    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, self.pem()).expect("write the CA's PEM file");
    }

    /// A certificate for `names` (DNS names or IP addresses), valid from yesterday for a year.
    pub fn server(&self, names: &[&str]) -> ServerIdentity {
        self.server_valid(names, -1, 365)
    }

    /// A certificate for `names` that expired yesterday.
    pub fn expired_server(&self, names: &[&str]) -> ServerIdentity {
        self.server_valid(names, -30, -1)
    }

    /// Valid from `from` days from today to `until` days from today (UTC).
    fn server_valid(&self, names: &[&str], from: i64, until: i64) -> ServerIdentity {
        let day = |offset: i64| {
            let date = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_hours(24 * offset))
                .expect("a date")
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date();
            let (month, day) = (date.month(), date.day());
            rcgen::date_time_ymd(
                i32::from(date.year()),
                u8::try_from(month).expect("a month"),
                u8::try_from(day).expect("a day"),
            )
        };
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "hoist test server");
        params.not_before = day(from);
        params.not_after = day(until);
        let key = KeyPair::generate().expect("a server key");
        let certificate = params.signed_by(&key, &self.issuer).expect("signed");
        ServerIdentity {
            chain: vec![certificate.der().clone(), self.issuer.der().clone()],
            key: key.serialize_der(),
        }
    }
}

impl ServerIdentity {
    /// A rustls server config presenting this certificate (ring: the one provider built).
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .expect("a server config");
        Arc::new(config)
    }
}

/// A TLS server on 127.0.0.1 that answers every request's head with `answer` (a whole
/// HTTP response) and closes; a refused handshake just ends that connection.
pub fn answering_server(config: Arc<rustls::ServerConfig>, answer: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TLS server");
    let address = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(connection) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(connection, stream);
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                line.clear();
            }
            drop(reader);
            let _ = tls.write_all(answer.as_bytes());
            let _ = tls.flush();
        }
    });
    address
}
