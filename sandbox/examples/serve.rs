//! Serves a sandbox on a loopback port and prints a kubeconfig for it:
//! `cargo run -p sandbox --example serve -- 127.0.0.1:6443 [TOKEN]`.

use sandbox::Sandbox;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let sandbox = Sandbox::with_controllers(sandbox::Behaviour::default());
    // A fixed token is fine for a sandbox on your own loopback: pass one to keep it private.
    let token = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "sandbox".to_string());
    let served = sandbox.serve(listener, &token).await?;
    println!("{}", served.kubeconfig());
    tokio::signal::ctrl_c().await
}
