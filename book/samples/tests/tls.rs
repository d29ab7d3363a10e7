//! The claims of `book/src/tls.md` that the samples table cannot express:
//! what Python's `ssl` says when a check fails against `tls-echo` (no
//! `cafile=`, the wrong `server_hostname`) and when a TLS client reaches a
//! plain port, run against a real socket-lab with its real certificate.

use std::process::Command;

use native_server::testing::TestServer;
use protocol::Demo;

/// Tries a TLS connection the way the chapter's table says, printing one
/// line per try: its label, then `OK` or the exception and its message.
const TRIES: &str = r#"
import socket, ssl, sys
cafile, tls_port, plain_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def attempt(label, ctx, name, port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as t:
                print(label, "OK", t.version())
    except Exception as e:
        print(label, type(e).__name__, e)
attempt("right:", ssl.create_default_context(cafile=cafile), "localhost", tls_port)
attempt("no-cafile:", ssl.create_default_context(), "localhost", tls_port)
attempt("wrong-name:", ssl.create_default_context(cafile=cafile), "example.com", tls_port)
attempt("plain-port:", ssl.create_default_context(cafile=cafile), "localhost", plain_port)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_checks_fail_as_the_chapter_says() {
    let server = TestServer::start(|_| {}).await;
    let dir = std::env::temp_dir().join(format!("socket-lab-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("socket-lab-cert.pem");
    std::fs::write(&cert, &server.tls_cert_pem).unwrap();
    let tls = server.addr(Demo::TlsEcho).port().to_string();
    let plain = server.addr(Demo::TcpEcho).port().to_string();
    let cert_arg = cert.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", TRIES, &cert_arg, &tls, &plain])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| {
                panic!(
                    "no {label} line in {text:?} (stderr {:?})",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .to_owned()
    };
    assert_eq!(line("right:"), "right: OK TLSv1.3");
    let no_ca = line("no-cafile:");
    assert!(
        no_ca.contains("SSLCertVerificationError") && no_ca.contains("self-signed certificate"),
        "{no_ca}"
    );
    let wrong = line("wrong-name:");
    assert!(
        wrong.contains("SSLCertVerificationError")
            && wrong.contains("Hostname mismatch, certificate is not valid for 'example.com'."),
        "{wrong}"
    );
    let plain = line("plain-port:");
    assert!(
        plain.contains("SSLError") && plain.contains("WRONG_VERSION_NUMBER"),
        "{plain}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    server.stop().await.unwrap();
}
