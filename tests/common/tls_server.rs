//! A throwaway PostgreSQL 15 with `ssl=on`, for tests of TLS to the database. It runs as the
//! `postgres` OS user (PostgreSQL refuses root) from a temporary directory, on a free port,
//! with a server certificate for `localhost` signed by a CA made here; all gone on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct TlsServer {
    pub port: u16,
    /// The CA that signed the server's certificate.
    pub ca_file: PathBuf,
    /// A CA unrelated to the server.
    pub other_ca_file: PathBuf,
    dir: PathBuf,
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", program]);
    command
}

fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let cert = dir.join(format!("{name}.pem"));
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=tsapi test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            dir.join(format!("{name}.key")).to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]));
    cert
}

impl TlsServer {
    pub fn start() -> Self {
        let initdb = format!("{PG_BIN}/initdb");
        assert!(
            Path::new(&initdb).exists(),
            "{initdb} is missing: install postgresql-15 (scripts/db.sh does)"
        );
        let dir = std::env::temp_dir().join(format!(
            "tsapi-tls-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();

        let ca_file = make_ca(&dir, "ca");
        let other_ca_file = make_ca(&dir, "other-ca");
        run(Command::new("openssl")
            .args(["req", "-newkey", "ec", "-pkeyopt"])
            .args([
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                &path("server.key"),
                "-out",
                &path("server.csr"),
            ]));
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        run(Command::new("openssl").args([
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-extfile",
            &path("server.ext"),
            "-out",
            &path("server.crt"),
        ]));
        run(Command::new("chmod").args(["0600", &path("server.key")]));
        run(Command::new("chown").args(["-R", "postgres:postgres", dir.to_str().unwrap()]));

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        run(as_postgres(&initdb).args(["-D", &path("data"), "--auth=trust", "-U", "postgres"]));
        let options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} \
             -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}",
            dir = dir.display(),
            cert = path("server.crt"),
            key = path("server.key"),
        );
        run(as_postgres(&format!("{PG_BIN}/pg_ctl")).args([
            "start",
            "-w",
            "-D",
            &path("data"),
            "-l",
            &path("log"),
            "-o",
            &options,
        ]));
        Self {
            port,
            ca_file,
            other_ca_file,
            dir,
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(&format!("{PG_BIN}/pg_ctl"))
            .args(["stop", "-m", "immediate", "-D", data.to_str().unwrap()])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
