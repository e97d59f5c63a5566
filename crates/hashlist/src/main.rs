//! `hlsmesh-hashlist <media playlist>`: prints the playlist's integrity sidecar.
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [playlist] = &args[..] else {
        eprintln!("usage: hlsmesh-hashlist <media playlist> > <media playlist>.hashes");
        return ExitCode::from(2);
    };
    match hlsmesh_hashlist::hash_list(&PathBuf::from(playlist)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hlsmesh-hashlist: {e}");
            ExitCode::FAILURE
        }
    }
}
