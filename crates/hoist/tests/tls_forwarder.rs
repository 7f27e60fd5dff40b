//! A TLS-terminating forwarder for tests, as a TLS proxy in front of `hoist serve` would be:
//! it accepts TLS on 127.0.0.1:0 with the certificate it was given and copies each
//! connection's plaintext both ways to a backend on loopback. Stops when dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub struct TlsForwarder {
    pub address: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    /// Its tasks end with it.
    _runtime: tokio::runtime::Runtime,
}

impl TlsForwarder {
    pub fn start(config: Arc<rustls::ServerConfig>, backend: SocketAddr) -> Self {
        assert!(backend.ip().is_loopback(), "forward to loopback only");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the forwarder");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the forwarder");
        let address = listener.local_addr().expect("its address");
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&handshakes);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), Arc::clone(&counted));
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to copy.
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut server) = TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        Self {
            address,
            handshakes,
            _runtime: runtime,
        }
    }

    /// TLS handshakes that succeeded: connections that reached the backend.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }
}
