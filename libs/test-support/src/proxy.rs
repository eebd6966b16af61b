//! A TCP proxy a test can cut and restore on the same port, to take a server (Redis) away
//! from the code under test and give it back, without touching the server itself.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Forwards every connection on `addr` to `upstream` until [`TcpProxy::cut`].
pub struct TcpProxy {
    addr: SocketAddr,
    upstream: String,
    task: Option<JoinHandle<()>>,
}

/// A `redis://[user:password@]host[:port][/db]` URL split into what comes before the host
/// (`redis://user:password@`), `host:port`, and the rest (`/db`).
fn redis_authority(url: &str) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (userinfo, hostport) = authority
        .rsplit_once('@')
        .map_or(("", authority), |(u, h)| (u, h));
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:6379")
    };
    let userinfo = if userinfo.is_empty() {
        String::new()
    } else {
        format!("{userinfo}@")
    };
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    (format!("{scheme}://{userinfo}"), hostport, path)
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

async fn serve(listener: TcpListener, upstream: String) {
    // Dropping this task (on cut) drops the set, which aborts every connection's task and so
    // closes both of its sockets.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut inbound, _)) = accepted else { continue };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

impl TcpProxy {
    /// A proxy on a free loopback port to `upstream` (`host:port`).
    pub async fn start(upstream: impl Into<String>) -> TcpProxy {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let upstream = upstream.into();
        let task = tokio::spawn(serve(listener, upstream.clone()));
        TcpProxy {
            addr,
            upstream,
            task: Some(task),
        }
    }

    /// A proxy to the test Redis ([`crate::redis_url`]).
    pub async fn to_redis() -> TcpProxy {
        let (_, hostport, _) = redis_authority(&crate::redis_url());
        TcpProxy::start(hostport).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test Redis URL (same credentials and database) through this proxy.
    pub fn redis_url(&self) -> String {
        let (head, _, path) = redis_authority(&crate::redis_url());
        format!("{head}{}{path}", self.addr)
    }

    /// Stops listening and closes every open connection: the upstream is gone.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        if self.task.is_some() {
            return;
        }
        let mut tries = 0;
        let listener = loop {
            match bind(self.addr) {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen again on {}: {e}", self.addr),
            }
        };
        self.task = Some(tokio::spawn(serve(listener, self.upstream.clone())));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redis_authority;

    #[test]
    fn splits_redis_urls() {
        assert_eq!(
            redis_authority("redis://127.0.0.1:6379"),
            ("redis://".into(), "127.0.0.1:6379".into(), String::new())
        );
        assert_eq!(
            redis_authority("redis://:pw@localhost/2"),
            ("redis://:pw@".into(), "localhost:6379".into(), "/2".into())
        );
    }
}
