//! The demo binaries' command lines (DESIGN.md "Demo binaries"), defined once for every
//! transport, and the `main` of each kind of binary: parse, run, report, exit with the
//! contract's status.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, ValueEnum};

use wsduplex_core::DeflateConfig;
use wsduplex_core::driver::{SocketConfig, SocketError};
use wsduplex_core::tls;

use crate::output::Output;
use crate::seed::{self, DEFAULT_CHUNK_SIZE, Summary, Timeline};

/// How the client closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloseMode {
    /// Close-output: send our Close, keep reading until the server's Close.
    Output,
    /// Close and wait on the sending side until the handshake is done.
    Wait,
}

/// The seed server's flags.
#[derive(Debug, Clone, Args)]
pub struct ServerFlags {
    /// An ack every this many bytes received.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_CHUNK_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: u64,
    /// Serve wss:// with this certificate chain (PEM).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept permessage-deflate offers (the binary's `--deflate`, which the demo shares
    /// with its client).
    #[arg(skip)]
    pub deflate: bool,
}

/// The seed client's flags.
#[derive(Debug, Clone, Args)]
pub struct ClientFlags {
    /// Binary messages to send.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub messages: u64,
    /// Bytes per message.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 10)]
    pub message_size: usize,
    /// How to close once everything is sent.
    #[arg(long, value_enum, default_value_t = CloseMode::Output)]
    pub close: CloseMode,
    /// Expect every message echoed back (use a server path /echo) instead of acks.
    #[arg(long)]
    pub echo: bool,
    /// End stdout with one JSON object summing up the run.
    #[arg(long)]
    pub json: bool,
    /// Trust this CA (PEM) in addition to the default roots (Mozilla's), for wss:// URLs.
    #[arg(long, value_name = "CA.pem")]
    pub tls_ca: Option<PathBuf>,
    /// Offer permessage-deflate (the binary's `--deflate`).
    #[arg(skip)]
    pub deflate: bool,
}

impl Default for ClientFlags {
    /// The command line's defaults.
    fn default() -> Self {
        match ClientArgs::try_parse_from(["client", "--url", ""]) {
            Ok(args) => args.client,
            Err(e) => unreachable!("the defaults parse: {e}"),
        }
    }
}

/// `*-server`: serves the seed on every connection until killed.
#[derive(Debug, Clone, Parser)]
#[command(
    version,
    about = "Serves the wsduplex seed: acks every chunk, the final tally on the peer's Close, echo on /echo"
)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The seed server's flags.
    #[command(flatten)]
    pub server: ServerFlags,
    /// Accept permessage-deflate offers.
    #[arg(long)]
    pub deflate: bool,
}

/// `*-client`: streams the seed to a server and checks every byte was acknowledged.
#[derive(Debug, Clone, Parser)]
#[command(version, about = "Streams binary messages while reading the replies, closes, checks the acknowledged total")]
pub struct ClientArgs {
    /// Server URL, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The seed client's flags.
    #[command(flatten)]
    pub client: ClientFlags,
    /// Offer permessage-deflate.
    #[arg(long)]
    pub deflate: bool,
}

/// `*-demo`: the seed end to end over loopback in one process.
#[derive(Debug, Clone, Parser)]
#[command(version, about = "The wsduplex seed end to end over loopback: server and client in one process")]
pub struct DemoArgs {
    /// Address the demo's server listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The seed server's flags.
    #[command(flatten)]
    pub server: ServerFlags,
    /// The seed client's flags.
    #[command(flatten)]
    pub client: ClientFlags,
    /// Negotiate permessage-deflate.
    #[arg(long)]
    pub deflate: bool,
}

/// With `RUST_LOG` set (`RUST_LOG=wsduplex=debug`), every connection's `tracing` events
/// go to stderr: opened, closes sent and received, timeouts, violations with the peer's
/// address, how it ended. Not a flag: the command line stays the contract's.
fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr).try_init();
    }
}

/// Parses this process's arguments as `bin`'s. `Err` carries the exit status: 0 after
/// `--help` or `--version`, 2 (with a one-line error) for an unknown flag or a bad value.
pub fn parse<T: Parser>(bin: &'static str) -> Result<T, ExitCode> {
    init_logging();
    parse_from(bin, std::env::args_os())
}

fn parse_from<T: Parser>(bin: &'static str, args: impl IntoIterator<Item = OsString>) -> Result<T, ExitCode> {
    let parsed = T::command().name(bin).bin_name(bin).try_get_matches_from(args);
    match parsed.and_then(|m| T::from_arg_matches(&m)) {
        Ok(args) => Ok(args),
        Err(e) if !e.use_stderr() => {
            // Help and version: on stdout, which may be closed (`| head -1`).
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{bin}: {} (see --help)", one_line(&e));
            Err(ExitCode::from(2))
        }
    }
}

/// clap's message without its prefix, tips and usage.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// `--deflate` is one flag on the command line and a setting of each side's flags.
impl ServerArgs {
    fn settled(mut self) -> Self {
        self.server.deflate = self.deflate;
        self
    }
}

impl ClientArgs {
    fn settled(mut self) -> Self {
        self.client.deflate = self.deflate;
        self
    }
}

impl DemoArgs {
    fn settled(mut self) -> Self {
        (self.server.deflate, self.client.deflate) = (self.deflate, self.deflate);
        self
    }
}

/// permessage-deflate as the binaries use it when asked: the defaults (level 1, context
/// takeover, 15-bit windows).
fn deflate(on: bool) -> Option<DeflateConfig> {
    on.then(DeflateConfig::default)
}

/// A file a flag names, or an error that names it.
fn read_flag_file(flag: &str, path: &Path) -> Result<Vec<u8>, SocketError> {
    std::fs::read(path)
        .map_err(|e| SocketError::Io(io::Error::new(e.kind(), format!("{flag} {}: {e}", path.display()))))
}

impl ServerFlags {
    /// The seed server's socket configuration; over TLS (`wss://` only) with `--tls-cert` and
    /// `--tls-key`.
    pub fn socket_config(&self) -> Result<SocketConfig, SocketError> {
        let mut config = seed::server_socket_config(self.chunk_size);
        config.core = config.core.deflate(deflate(self.deflate));
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            let (cert, key) = (read_flag_file("--tls-cert", cert)?, read_flag_file("--tls-key", key)?);
            config.tls_server = Some(tls::server_config(&cert, &key)?);
        }
        Ok(config)
    }
}

impl ClientFlags {
    /// The seed client's socket configuration; `wss://` URLs trust `--tls-ca` besides the
    /// default roots.
    pub fn socket_config(&self) -> Result<SocketConfig, SocketError> {
        let mut config =
            SocketConfig::default().core(seed::client_config(self.message_size).deflate(deflate(self.deflate)));
        if let Some(ca) = &self.tls_ca {
            config.tls_client = Some(tls::client_config(&read_flag_file("--tls-ca", ca)?)?);
        }
        Ok(config)
    }
}

/// A configuration the flags asked for, or (TLS files that cannot be used: a bad value) a
/// one-line error and exit 2.
fn usable(bin: &str, config: Result<SocketConfig, SocketError>) -> Result<SocketConfig, ExitCode> {
    config.map_err(|e| {
        eprintln!("{bin}: {e}");
        ExitCode::from(2)
    })
}

/// A `*-server` binary: `serve` listens and serves with the socket configuration until
/// killed. TLS files that cannot be used are a bad value (exit 2).
pub fn server_main(bin: &'static str, serve: impl FnOnce(&ServerArgs, SocketConfig) -> io::Result<()>) -> ExitCode {
    let args = match parse::<ServerArgs>(bin).map(ServerArgs::settled) {
        Ok(a) => a,
        Err(status) => return status,
    };
    let config = match usable(bin, args.server.socket_config()) {
        Ok(c) => c,
        Err(status) => return status,
    };
    match serve(&args, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{bin}: cannot listen on {}: {e}", args.listen);
            ExitCode::from(1)
        }
    }
}

/// Says where a server listens (on stderr: stdout is the replies').
pub fn listening(bin: &str, addr: io::Result<SocketAddr>, config: &SocketConfig) {
    if let Ok(addr) = addr {
        let scheme = if config.tls_server.is_some() { "wss" } else { "ws" };
        let chunk_size = config.core.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE);
        eprintln!("{bin}: listening on {scheme}://{addr}/ (echo on /echo), chunk size {chunk_size}");
    }
}

/// A `*-client` binary: `run` streams the seed and returns the summary.
pub fn client_main<E: std::fmt::Display>(
    bin: &'static str,
    run: impl FnOnce(&ClientArgs, &Output) -> Result<Summary, E>,
) -> ExitCode {
    let args = match parse::<ClientArgs>(bin).map(ClientArgs::settled) {
        Ok(a) => a,
        Err(status) => return status,
    };
    if let Err(status) = usable(bin, args.client.socket_config()) {
        return status;
    }
    let out = Output::new(&args.client);
    match run(&args, &out) {
        Ok(summary) => {
            let (line, status) = summary.report(args.client.json);
            out.line(&line);
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("{bin}: {e}");
            ExitCode::from(1)
        }
    }
}

/// What a demo run gives back: the client's summary (or why it failed) and the server's
/// outcome as text.
pub type DemoRun<E> = Result<(Result<Summary, E>, String), E>;

/// A `*-demo` binary: `run` serves one connection on the demo's listener and runs the client
/// against it, logging both on the timeline.
pub fn demo_main<E: std::fmt::Display>(
    bin: &'static str,
    run: impl FnOnce(&DemoArgs, &Output, &Timeline, Instant) -> DemoRun<E>,
) -> ExitCode {
    let args = match parse::<DemoArgs>(bin).map(DemoArgs::settled) {
        Ok(a) => a,
        Err(status) => return status,
    };
    if let Err(status) = usable(bin, args.server.socket_config()).and_then(|_| usable(bin, args.client.socket_config()))
    {
        return status;
    }
    let out = Output::new(&args.client);
    let timeline = Timeline::default();
    let (summary, server) = match run(&args, &out, &timeline, Instant::now()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{bin}: {e}");
            return ExitCode::from(1);
        }
    };
    match summary {
        Ok(s) => {
            let (report, status) = timeline.demo_report(&s, &server, args.client.echo);
            out.line(&report);
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("{bin}: client: {e}");
            ExitCode::from(1)
        }
    }
}

impl DemoArgs {
    /// The client's URL for the demo's server at `addr` (`wss://` when it serves TLS).
    pub fn url(&self, addr: SocketAddr) -> String {
        let scheme = if self.server.tls_cert.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{addr}/{}", if self.client.echo { "echo" } else { "" })
    }

    /// The line the demo starts with.
    pub fn banner(&self, transport: &str, url: &str) -> String {
        let replies = if self.client.echo {
            "every message echoed".to_owned()
        } else {
            format!("an ack every {} bytes", self.server.chunk_size)
        };
        format!(
            "wsduplex {transport} demo: {} x {} bytes to {url}, {replies}\n",
            self.client.messages, self.client.message_size
        )
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parsed<T: Parser>(line: &str) -> Result<T, ExitCode> {
        parse_from("test-bin", std::iter::once("test-bin").chain(line.split_whitespace()).map(OsString::from))
    }

    #[test]
    fn the_client_contract() {
        let c: ClientArgs =
            parsed("--url ws://127.0.0.1:9/echo --messages 5 --message-size=7 --close wait --echo --json")
                .expect("valid");
        let f = &c.client;
        assert_eq!((f.messages, f.message_size, f.close, f.echo, f.json), (5, 7, CloseMode::Wait, true, true));
        let d: ClientArgs = parsed("--url=ws://h:1/").expect("valid");
        let f = &d.client;
        assert_eq!(
            (f.messages, f.message_size, f.close, f.echo, f.json),
            (1024, 131072, CloseMode::Output, false, false)
        );
        for bad in ["--messages 5", "--url x --close later", "--url x --bogus", "--url x --messages lots"] {
            assert_eq!(parsed::<ClientArgs>(bad).err(), Some(ExitCode::from(2)), "{bad}");
        }
        let tls: ClientArgs = parsed("--url wss://h:1/ --tls-ca ca.pem").expect("parses");
        let missing = tls.client.socket_config().expect_err("no such CA file").to_string();
        assert!(missing.contains("--tls-ca ca.pem"), "{missing}");
        let deflate = parsed::<ClientArgs>("--url ws://h:1/ --deflate").expect("parses").settled();
        let offered = deflate.client.socket_config().expect("no files").core.deflate;
        assert_eq!(offered, Some(DeflateConfig::default()));
        let plain = d.client.socket_config().expect("no files").core.deflate;
        assert_eq!(plain, None);
    }

    #[test]
    fn the_server_and_demo_contract() {
        let s: ServerArgs = parsed("--listen 127.0.0.1:0").expect("valid");
        assert_eq!(s.server.chunk_size, 4194304);
        assert_eq!(parsed::<ServerArgs>("--listen a --chunk-size 0").err(), Some(ExitCode::from(2)));
        assert_eq!(parsed::<ServerArgs>("--chunk-size 5").err(), Some(ExitCode::from(2)), "--listen is required");
        assert_eq!(
            parsed::<ServerArgs>("--listen a --tls-cert c.pem").err(),
            Some(ExitCode::from(2)),
            "needs --tls-key"
        );
        let tls: ServerArgs = parsed("--listen a --tls-cert c.pem --tls-key k.pem").expect("parses");
        let missing = tls.server.socket_config().expect_err("no such certificate file").to_string();
        assert!(missing.contains("--tls-cert c.pem"), "{missing}");
        let d = parsed::<DemoArgs>("--messages 3 --chunk-size=8 --echo --deflate").expect("valid").settled();
        assert!(d.server.deflate && d.client.deflate);
        assert!(d.server.socket_config().expect("no files").core.deflate.is_some());
        assert_eq!((d.client.messages, d.server.chunk_size, d.listen.as_str()), (3, 8, "127.0.0.1:0"));
        assert!(d.url("127.0.0.1:9".parse().expect("addr")).ends_with("/echo"));
        assert_eq!(parsed::<DemoArgs>("--help").err(), Some(ExitCode::SUCCESS));
        assert_eq!(parsed::<DemoArgs>("--version").err(), Some(ExitCode::SUCCESS));
    }

    #[test]
    fn an_error_is_one_line() {
        let e = ClientArgs::command().name("x").try_get_matches_from(["x", "--bogus"]).expect_err("unknown flag");
        let line = one_line(&e);
        assert!(!line.contains('\n') && line.contains("--bogus"), "{line:?}");
    }
}
