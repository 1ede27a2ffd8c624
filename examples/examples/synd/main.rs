//! `synd`: inspect and check terminology syndication feeds; see `synd --help`.

fn main() {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = examples::synd::run(std::env::args_os(), &mut stdout.lock(), &mut stderr.lock());
    std::process::exit(code);
}
