//! The seed over an async transport, written once for `wsduplex-smol` and `wsduplex-tokio`:
//! their sockets have the same names and shape (one `socket_api!`), so the application over
//! them is the same text with another crate's name. `on_smol` and `on_tokio`
//! add only their runtime: how tasks are spawned and how the binaries start.

/// `serve` and `run_client` over the async transport crate `$krate`.
macro_rules! async_seed {
    ($krate:ident) => {
        /// Serves one accepted connection: the seed server, or an echo on `/echo`. With a timeline,
        /// logs the close handshake's steps on it.
        pub async fn serve<S: $krate::AsyncStream>(
            mut ws: $krate::WebSocket<S>,
            chunk_size: u64,
            timeline: Option<(&Timeline, Instant)>,
        ) -> Result<$krate::Outcome, $krate::SocketError> {
            let mut app = SeedServer::new(ws.request().map_or("/", |r| r.path.as_str()), chunk_size);
            ws.set_delivery(app.delivery());
            let log = |line: Option<String>| Timeline::log_to(timeline, line);
            while let Some(event) = ws.recv().await? {
                log(Timeline::describe_server(&event, ws.state()));
                for reaction in app.on_event(&event) {
                    log(Timeline::describe_reaction(&event, &reaction, ws.state()));
                    match reaction {
                        Reaction::Send(m) => ws.send(m).await?,
                        Reaction::Fragment(c) => ws.send_fragment(c.kind, c.data, c.end_of_message).await?,
                        Reaction::Close(f) => ws.close(f.code, &f.reason).await?,
                    }
                }
            }
            log(Some("server: TCP released".into()));
            ws.outcome().ok_or($krate::SocketError::Closed($krate::Outcome::Abnormal))
        }

        /// Runs the seed client against `url`: streams in this task while another (started by
        /// `spawn`, which must start it at once) reads the replies, closes as chosen, reads
        /// until the server's Close.
        pub async fn run_client<R: Future<Output = Result<SeedClient, $krate::SocketError>>>(
            spawn: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = Result<SeedClient, $krate::SocketError>> + Send>>) -> R,
            url: &str,
            flags: &ClientFlags,
            out: &Output,
            timeline: Option<(&Timeline, Instant)>,
        ) -> Result<Summary, $krate::SocketError> {
            let start = Instant::now();
            let (tx, rx) = $krate::connect(url, flags.socket_config()?).await?.split();
            let mut client = SeedClient::new(flags.echo, flags.message_size);
            let sending = client.clone();
            let close_sent = Arc::new(AtomicBool::new(false));
            let reader = {
                let (close_sent, out) = (close_sent.clone(), out.clone());
                let timeline = timeline.map(|(t, s)| (t.clone(), s));
                spawn(Box::pin(async move {
                    let timeline = timeline.as_ref().map(|(t, s)| (t, *s));
                    while let Some(event) = rx.recv().await? {
                        Timeline::log_to(timeline, Timeline::describe_client(&event, close_sent.load(Ordering::Acquire)));
                        if let Some(reply) = client.on_event(&event) {
                            out.reply(&reply);
                        }
                    }
                    Timeline::log_to(timeline, Some("client: TCP released".into()));
                    Ok::<_, $krate::SocketError>(client)
                }))
            };
            let mut send_error = None;
            for i in 0..flags.messages {
                if let Err(e) = tx.send_binary(sending.message(i)).await {
                    send_error = Some(e.to_string());
                    break;
                }
                out.sent(i + 1);
            }
            out.done_sending();
            if send_error.is_none() {
                Timeline::log_to(timeline, Some(seed::closing(flags)));
                // Set before the call: the close() that writes our Close may return after the reader
                // has already seen the server's answer to it (its final tally), which is still a reply
                // received after our Close.
                close_sent.store(true, Ordering::Release);
                let closed = match flags.close {
                    CloseMode::Output => tx.close(1000, "").await,
                    CloseMode::Wait => tx.close_and_wait(1000, "").await.map(drop),
                };
                Timeline::log_to(timeline, Some(format!("client: Close sent -> {:?}", tx.state())));
                send_error = closed.err().map(|e| e.to_string());
            }
            let client = reader.await?;
            Ok(client.summary(tx.stats(), tx.outcome().as_ref(), start.elapsed(), send_error))
        }
    };
}

pub(crate) use async_seed;
