//! `blocking-client` (DESIGN.md "Demo binaries"): `--help` says the rest.

fn main() -> std::process::ExitCode {
    wsduplex_demo::on_std::client_main()
}
