//! omnibus-bench: benchmarks printing one `name=value unit` line per figure.

fn main() {
    eprintln!("omnibus-bench: no benchmark is built yet");
    std::process::exit(2);
}
