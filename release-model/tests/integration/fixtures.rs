use release_model::feed::{Profile, ReadOptions, read_feed, validate_read};

#[test]
fn dump() {
    let Some(dir) = crate::fixtures_dir() else { return };
    let mut names: Vec<_> = std::fs::read_dir(dir.join("feeds")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        if p.extension().and_then(|e| e.to_str()) != Some("xml") { continue; }
        let bytes = std::fs::read(&p).unwrap();
        println!("=== {}", p.file_name().unwrap().to_string_lossy());
        match read_feed(&bytes, &ReadOptions::lenient()) {
            Ok(o) => {
                println!("entries {}", o.feed.entries.len());
                for f in validate_read(&o, Profile::Lenient) { println!("  {f}"); }
                let again = read_feed(o.feed.to_xml().as_bytes(), &ReadOptions::lenient()).unwrap();
                println!("roundtrip equal: {}", again.feed == o.feed);
            }
            Err(e) => println!("ERR {e}"),
        }
        match read_feed(&bytes, &ReadOptions::strict()) { Ok(_) => println!("strict ok"), Err(e) => println!("strict ERR {e}") }
    }
}
