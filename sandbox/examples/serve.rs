//! Serves a sandbox on a loopback port and prints a kubeconfig for it:
//! `cargo run -p sandbox --example serve -- 127.0.0.1:6443`.

use sandbox::Sandbox;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let sandbox = Sandbox::new();
    let address = sandbox.serve(listener).await?;
    println!("{}", Sandbox::kubeconfig(address));
    tokio::signal::ctrl_c().await
}
