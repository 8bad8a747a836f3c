//! A real `redis-server` for a test: started from PATH on a free loopback
//! port, without persistence, and stopped when dropped. Without
//! `redis-server` on the machine the test is skipped (and says so), unless
//! `CI` is set: then it fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` of this test.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
    /// More arguments for `redis-server`.
    args: Vec<String>,
    /// The port it also speaks TLS on, if any.
    tls_port: Option<u16>,
}

impl RedisServer {
    /// Starts one, or `None` (printed) when the machine has no
    /// `redis-server` and `CI` is not set.
    pub fn start() -> Option<RedisServer> {
        Self::start_with(&[])
    }

    /// [`start`](Self::start), with more arguments for `redis-server`
    /// (configuration directives, `--name value`).
    pub fn start_with(args: &[&str]) -> Option<RedisServer> {
        Self::start_on(args, false)
    }

    fn start_on(args: &[&str], tls: bool) -> Option<RedisServer> {
        let available = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not on PATH, and CI is set: install it (apt-get install -y redis-server)"
            );
            eprintln!("skipped: no redis-server on PATH (apt-get install -y redis-server)");
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("rebuff-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            args: args.iter().map(|&arg| arg.to_owned()).collect(),
            tls_port: tls.then(free_port),
        };
        server.spawn(false);
        Some(server)
    }

    /// [`start`](Self::start), the server also speaking TLS on a port of
    /// its own ([`tls_url`](Self::tls_url)) with the test certificates of
    /// `tests/support/tls` (`ca.pem` signed the server's), not asking
    /// clients for certificates.
    pub fn start_tls() -> Option<RedisServer> {
        Self::start_on(&[], true)
    }

    /// [`start_tls`](Self::start_tls), with more arguments for
    /// `redis-server`.
    pub fn start_tls_with(args: &[&str]) -> Option<RedisServer> {
        Self::start_on(args, true)
    }

    /// The arguments that make the server speak TLS on `port`.
    fn tls_args(port: u16) -> Vec<String> {
        [
            "--tls-port".to_owned(),
            port.to_string(),
            "--tls-cert-file".to_owned(),
            tls_file("server.pem"),
            "--tls-key-file".to_owned(),
            tls_file("server.key"),
            "--tls-ca-cert-file".to_owned(),
            tls_file("ca.pem"),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ]
        .into()
    }

    /// `rediss://127.0.0.1:PORT`, the TLS port of [`start_tls`](Self::start_tls).
    pub fn tls_url(&self) -> String {
        let port = self.tls_port.expect("a server started with TLS");
        format!("rediss://127.0.0.1:{port}")
    }

    /// Starts the server; on another free port if `self.port` was taken
    /// again before the server could bind it, unless the port must stay.
    fn spawn(&mut self, keep_port: bool) {
        for _ in 0..5 {
            if self.try_spawn() {
                return;
            }
            assert!(
                !keep_port,
                "redis-server could not bind port {} again",
                self.port
            );
            self.port = free_port();
            if self.tls_port.is_some() {
                self.tls_port = Some(free_port());
            }
        }
        let tls = if self.tls_port.is_some() {
            " (with TLS: is this redis-server built with TLS?)"
        } else {
            ""
        };
        panic!("redis-server did not start on any of 5 free ports{tls}");
    }

    /// Starts the server on `self.port`: whether it is this test's own that
    /// answers there (not another test's that took the port first).
    fn try_spawn(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .args(self.tls_port.map(Self::tls_args).unwrap_or_default())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let started = Instant::now();
        loop {
            if child.try_wait().ok().flatten().is_some() {
                // Exited: the port was not free.
                return false;
            }
            if self.command(&["PING"]).as_deref() == Some("+PONG") {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                // Not left running past the test.
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server did not answer on port {}", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let info = self.command(&["INFO", "server"]).unwrap_or_default();
        let ours = info
            .lines()
            .any(|line| line.trim() == format!("process_id:{}", child.id()));
        if !ours {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        self.child = Some(child);
        true
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its data goes with it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(true);
    }

    /// Freezes the server (it keeps its connections and answers nothing)
    /// until [`resume`](Self::resume).
    pub fn stall(&self) {
        self.signal("-STOP");
    }

    /// Lets a stalled server go on.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        // The shell's own `kill`: a slim machine may have no `/bin/kill`.
        let status = Command::new("sh")
            .args(["-c", &format!("kill {signal} {pid}")])
            .status()
            .expect("sh runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// One command over a fresh connection; its first reply line (`None`
    /// when the server does not answer within a second).
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end().to_owned();
        // A bulk reply: its payload.
        if let Some(len) = line.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            let mut payload = vec![0; len + 2];
            reader.read_exact(&mut payload).ok()?;
            payload.truncate(len);
            return String::from_utf8(payload).ok();
        }
        Some(line)
    }

    /// Runs `commands` one after another on one connection (an `AUTH`
    /// first holds for the rest); each reply's first line.
    pub fn session(&self, commands: &[&[&str]]) -> Vec<String> {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("Redis answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("a timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
        commands
            .iter()
            .map(|args| {
                let mut request = format!("*{}\r\n", args.len());
                for arg in *args {
                    request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
                }
                stream.write_all(request.as_bytes()).expect("sent");
                let mut line = String::new();
                reader.read_line(&mut line).expect("a reply");
                line.trim_end().to_owned()
            })
            .collect()
    }

    /// How many times Redis ran `command` since its stats were reset
    /// (`INFO commandstats`).
    pub fn calls(&self, command: &str) -> u64 {
        let info = self.command(&["INFO", "commandstats"]).unwrap_or_default();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Resets the command counts.
    pub fn reset_stats(&self) {
        assert_eq!(
            self.command(&["CONFIG", "RESETSTAT"]).as_deref(),
            Some("+OK")
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A stalled server would not die of SIGKILL any later, but resume
        // it anyway so that nothing is left stopped.
        if let Some(child) = &self.child {
            let _ = Command::new("sh")
                .args(["-c", &format!("kill -CONT {}", child.id())])
                .status();
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port free now, and one no other test of this process is handed
/// while a server is stopped on it: taken in turn from a range below the
/// ports the system hands out for `bind(0)` (32768 and up on Linux), from
/// a start of this process's own.
/// The path of one of the test certificates' files in `tests/support/tls`
/// (`ca.pem`, `server.pem`, `server.key`).
pub fn tls_file(name: &str) -> String {
    format!("{}/tests/support/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + u16::try_from(std::process::id() % 500).unwrap_or(0) * 20;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = start + offset % 2_000;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}
