//! `tokio-server` (DESIGN.md "Demo binaries"): `--help` says the rest.

fn main() -> std::process::ExitCode {
    wsduplex_demo::on_tokio::server_main()
}
