//! A loopback server that accepts connections, reads each request and never
//! answers: the peer every attempt timeout and deadline is tested against.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// The running server; stopped when dropped.
pub struct Silent {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Silent {
    /// Listens on 127.0.0.1 and a free port.
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopped) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let counted = counted.clone();
                thread::spawn(move || hold(stream, &counted));
            }
        });
        Silent {
            addr,
            requests,
            stop,
        }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests seen (each counted once its head is in).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests seen, once at least `at_least` are in (or 10 s passed):
    /// each is counted on a thread of its own, which a loaded machine may
    /// run after the client gave up on it. A little longer, so that one
    /// more than expected is seen too.
    pub fn requests_settled(&self, at_least: usize) -> usize {
        let started = std::time::Instant::now();
        while self.requests() < at_least && started.elapsed() < std::time::Duration::from_secs(10) {
            thread::sleep(std::time::Duration::from_millis(5));
        }
        thread::sleep(std::time::Duration::from_millis(50));
        self.requests()
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Counts the request once its head is in, then reads until the peer hangs
/// up, answering nothing.
fn hold(mut stream: TcpStream, requests: &AtomicUsize) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let mut counted = false;
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if !counted && head.windows(4).any(|w| w == b"\r\n\r\n") {
                    counted = true;
                    requests.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}
