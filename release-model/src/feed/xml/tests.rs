//! The tokenizer against hand-written documents, and against quick-xml on every real feed.

use super::*;

fn tokens(doc: &str) -> Result<Vec<(Raw, usize)>, Syntax> {
    let mut t = Tokenizer::default();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        match t.next(doc, &mut pos, true, false)? {
            Step::Token(Raw::Eof, _) => return Ok(out),
            Step::Token(tok, at) => out.push((tok, at)),
            Step::NeedMore => unreachable!("the whole document is given"),
        }
    }
}

#[test]
fn splits_markup_and_text() {
    let doc = "<?xml version=\"1.0\"?><!-- c --><a x='1>'><b/>t&amp;<![CDATA[<x>]]></a>";
    let toks = tokens(doc).expect("well-formed");
    let kinds: Vec<&Raw> = toks.iter().map(|(t, _)| t).collect();
    assert!(matches!(kinds[0], Raw::Skipped));
    assert!(matches!(kinds[1], Raw::Skipped));
    let Raw::Start { name, attrs, empty } = kinds[2].clone() else {
        panic!("{kinds:?}")
    };
    assert_eq!((&doc[name], &doc[attrs], empty), ("a", " x='1>'", false));
    assert!(matches!(kinds[3], Raw::Start { empty: true, .. }));
    assert!(matches!(kinds[4], Raw::Text(r) if &doc[r.clone()] == "t&amp;"));
    assert!(matches!(kinds[5], Raw::CData(r) if &doc[r.clone()] == "<x>"));
    assert_eq!(kinds[6], &Raw::End);
}

#[test]
fn end_tags_must_match() {
    let err = tokens("<a><b></a>").expect_err("mismatch");
    assert_eq!(err.at, 6);
    assert_eq!(err.expected.as_deref(), Some("</b>"));
    assert!(tokens("</a>").is_err());
    assert!(tokens("<a></a ").is_err());
    assert!(tokens("<a></ a>").is_err());
}

#[test]
fn malformed_markup_is_located() {
    for (doc, at) in [
        ("<a>< b</a>", 3),
        ("<a><!x></a>", 3),
        ("<a><!-- open", 3),
        ("<a><b x='1></a>", 8),
        ("<a><1/></a>", 3),
        ("<a><b\"x\"/></a>", 5),
    ] {
        let err = tokens(doc).expect_err(doc);
        assert_eq!(err.at, at, "{doc}: {err:?}");
    }
}

#[test]
fn a_leaf_is_read_in_one_step_only_when_plain() {
    let doc = "<a><b>x &amp; y</b><c>1<!-- -->2</c><d>t</d ></a>";
    let plain = "<a><b>plain text</b><c>line\r\nend</c></a>";
    let mut t = Tokenizer::default();
    let mut pos = 0;
    let start = |t: &mut Tokenizer, pos: &mut usize| {
        assert!(matches!(
            t.next(doc, pos, true, false),
            Ok(Step::Token(Raw::Start { .. }, _))
        ));
    };
    start(&mut t, &mut pos);
    start(&mut t, &mut pos);
    assert_eq!(
        t.leaf_text(doc, &mut pos)
            .map(|(r, plain)| (&doc[r], plain)),
        Some(("x &amp; y", false)),
        "a reference is not plain"
    );
    assert_eq!(t.top(), Some("a"));
    start(&mut t, &mut pos);
    let before = pos;
    assert_eq!(t.leaf_text(doc, &mut pos), None, "a comment inside");
    assert_eq!((pos, t.top()), (before, Some("c")));
    while !matches!(
        t.next(doc, &mut pos, true, false),
        Ok(Step::Token(Raw::End, _))
    ) {}
    start(&mut t, &mut pos);
    assert_eq!(
        t.leaf_text(doc, &mut pos),
        None,
        "white space in the end tag"
    );
    assert_eq!(t.top(), Some("d"));
    let mut t = Tokenizer::default();
    let mut pos = 0;
    let read = |t: &mut Tokenizer, pos: &mut usize| {
        for _ in 0..2 {
            assert!(matches!(
                t.next(plain, pos, true, false),
                Ok(Step::Token(Raw::Start { .. }, _))
            ));
            let text = t
                .leaf_text(plain, pos)
                .map(|(r, plain_text)| (&plain[r], plain_text));
            if text.is_some() {
                return text;
            }
        }
        None
    };
    assert_eq!(read(&mut t, &mut pos), Some(("plain text", true)));
    assert_eq!(
        read(&mut t, &mut pos),
        Some(("line\r\nend", false)),
        "a CR is not plain"
    );
}

#[test]
fn doctype_is_skipped_whole() {
    let doc = "<!DOCTYPE feed [<!ENTITY x \"a>b\"> <!ELEMENT e ANY>]><feed/>";
    let toks = tokens(doc).expect("well-formed");
    assert_eq!(toks[0].0, Raw::Skipped);
    assert!(matches!(&toks[1].0, Raw::Start { name, .. } if &doc[name.clone()] == "feed"));
}

#[test]
fn a_window_that_ends_mid_token_asks_for_more() {
    let doc = "<feed><entry x='1'>text</entry></feed>";
    for cut in 1..doc.len() {
        let mut t = Tokenizer::default();
        let mut pos = 0;
        let mut seen = Vec::new();
        // Feed the document in two windows: up to `cut`, then all of it.
        while let Step::Token(tok, _) = t.next(&doc[..cut], &mut pos, false, false).expect("prefix")
        {
            seen.push(tok);
        }
        loop {
            match t.next(doc, &mut pos, true, false).expect("rest") {
                Step::Token(Raw::Eof, _) => break,
                Step::Token(tok, _) => seen.push(tok),
                Step::NeedMore => unreachable!(),
            }
        }
        assert_eq!(
            seen,
            tokens(doc)
                .expect("whole")
                .into_iter()
                .map(|t| t.0)
                .collect::<Vec<_>>(),
            "cut {cut}"
        );
    }
}

#[test]
fn attributes_split_with_their_errors() {
    let doc = "<e a=\"1\"  b = 'x\"y'\n/>";
    let mut t = Tokenizer::default();
    let mut pos = 0;
    let Ok(Step::Token(Raw::Start { attrs, empty, .. }, _)) = t.next(doc, &mut pos, true, false)
    else {
        panic!("a start tag")
    };
    assert!(empty);
    let text = &doc[attrs];
    let got: Vec<(&str, &str)> = t
        .attributes()
        .iter()
        .map(|a| (&text[a.name.clone()], &text[a.value.clone()]))
        .collect();
    assert_eq!(got, [("a", "1"), ("b", "x\"y")]);
    for bad in [
        "<e a/>",
        "<e a=1/>",
        "<e a='1'b='2'/>",
        "<e ='1'/>",
        "<e a='<'/>",
        "<e a='1'/ >",
    ] {
        let mut pos = 0;
        let got = Tokenizer::default().next(bad, &mut pos, true, false);
        assert!(got.is_err(), "{bad}: {got:?}");
    }
}

fn oracle(doc: &str) -> Option<Vec<String>> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(doc);
    r.config_mut().check_end_names = true;
    let mut out = Vec::new();
    loop {
        match r.read_event().ok()? {
            Event::Start(e) => out.push(format!("<{}", e.name().0)),
            Event::Empty(e) => out.push(format!("<{}/", e.name().0)),
            Event::End(_) => out.push(">".into()),
            Event::Eof => return Some(out),
            _ => {}
        }
    }
}

fn ours(doc: &str) -> Result<Vec<String>, Syntax> {
    let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    Ok(tokens(doc)?
        .into_iter()
        .filter_map(|(t, _)| match t {
            Raw::Start { name, empty, .. } => {
                Some(format!("<{}{}", &doc[name], if empty { "/" } else { "" }))
            }
            Raw::End => Some(">".into()),
            _ => None,
        })
        .collect())
}

// Every real feed and every in-repo deviation fixture tokenizes into the same element
// structure as quick-xml finds, and is well-formed to both or to neither.
#[test]
fn agrees_with_quick_xml_on_real_feeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = test_support::fixtures_dir(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or_else(|| root.join("../../shared/fixtures"));
    let mut files = Vec::new();
    for dir in [shared.join("feeds"), root.join("tests/data")] {
        let Ok(listing) = std::fs::read_dir(&dir) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing",
                dir.display()
            );
            continue;
        };
        files.extend(listing.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    let mut compared = 0;
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
    {
        let Ok(doc) = std::fs::read_to_string(path) else {
            continue;
        };
        match (oracle(&doc), ours(&doc)) {
            (Some(theirs), Ok(mine)) => {
                assert_eq!(mine, theirs, "{}", path.display());
                compared += 1;
            }
            (None, Err(_)) => {}
            (theirs, mine) => panic!(
                "{}: quick-xml well-formed {}, ours {:?}",
                path.display(),
                theirs.is_some(),
                mine.err()
            ),
        }
    }
    assert!(compared >= 10, "compared {compared} documents");
}
