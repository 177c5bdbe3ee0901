//! The served API over TLS. kubectl sends a bearer token over https only,
//! so the token that guards the sandbox needs it. Every start makes a new
//! certificate authority and a server certificate for the listening
//! address, `127.0.0.1` and `localhost`; the kubeconfig carries the
//! authority, so clients verify the sandbox as they would a real cluster.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// What a served sandbox proves itself with.
pub struct Identity {
    /// The authority clients trust (PEM), for the kubeconfig.
    pub authority_pem: String,
    pub config: Arc<ServerConfig>,
}

fn failed(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!(
        "cannot make the sandbox's TLS certificate: {error}"
    ))
}

/// A new authority and a certificate it signed for `address`.
pub fn identity(address: SocketAddr) -> io::Result<Identity> {
    let mut authority = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    authority.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    authority
        .distinguished_name
        .push(DnType::CommonName, "Kubernetes sandbox authority");
    authority.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let authority_key = KeyPair::generate().map_err(failed)?;
    let authority_certificate = authority.self_signed(&authority_key).map_err(failed)?;
    let issuer = Issuer::new(authority, authority_key);

    let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(failed)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "Kubernetes sandbox");
    let mut addresses = vec![address.ip(), std::net::Ipv4Addr::LOCALHOST.into()];
    addresses.dedup();
    server
        .subject_alt_names
        .extend(addresses.into_iter().map(SanType::IpAddress));
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let server_key = KeyPair::generate().map_err(failed)?;
    let server_certificate = server.signed_by(&server_key, &issuer).map_err(failed)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(failed)?
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(server_certificate.der().to_vec()),
                CertificateDer::from(authority_certificate.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .map_err(failed)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity {
        authority_pem: authority_certificate.pem(),
        config: Arc::new(config),
    })
}

/// Accepts TLS connections on `listener` and serves `router` on each, until
/// the task is dropped. A failed handshake ends only its own connection.
pub async fn serve(listener: TcpListener, router: Router, config: Arc<ServerConfig>) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "the Kubernetes sandbox could not accept a connection");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades()
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "a sandbox connection ended with an error");
            }
        });
    }
}
