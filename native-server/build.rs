//! With the `embed` feature, puts the built site inside the binary, so that
//! `socket-lab` serves its pages, labs and book from any directory with
//! nothing next to it (`cargo xtask dist`, the wheel). The site comes from
//! `SOCKET_LAB_DIST` (default: the workspace's `dist/`, which
//! `cargo xtask build` makes); memory-serve compresses it here, at build
//! time, and serves it with types, ETags and gzip/brotli.
//!
//! Without the feature this does nothing: the server serves `--assets DIR`.

fn main() {
    println!("cargo::rerun-if-env-changed=SOCKET_LAB_DIST");
    #[cfg(feature = "embed")]
    embed();
}

#[cfg(feature = "embed")]
fn embed() {
    use std::path::PathBuf;
    let dist = std::env::var_os("SOCKET_LAB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist"));
    assert!(
        dist.join("index.html").is_file() && dist.join("pkg").is_dir(),
        "the `embed` feature puts the built site inside the binary, but {} holds no built \
         site: run `cargo xtask build` first, or `cargo xtask dist`, which does both",
        dist.display()
    );
    memory_serve::load_directory_with_embed(dist, true);
}
