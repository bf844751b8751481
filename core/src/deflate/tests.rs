//! Unit tests of the negotiation (RFC 7692 §7.1) and the codec (§7.2).

use super::*;

fn offers(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn params(snct: bool, cnct: bool, smwb: Option<u8>, cmwb: Option<u8>) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: smwb,
        client_max_window_bits: cmwb,
    }
}

#[test]
fn the_header_grammar_splits_and_unquotes() {
    assert_eq!(split_list(r#"a; x="1,2", b ,, c"#), [r#"a; x="1,2""#, "b", "c"]);
    let e = parse_element(r#"permessage-deflate; client_max_window_bits="10"; server_no_context_takeover"#);
    assert_eq!(
        e,
        Ok(Element {
            name: "permessage-deflate",
            params: vec![("client_max_window_bits", Some("10".into())), ("server_no_context_takeover", None)],
        })
    );
    // RFC 6455 §9.1: a quoted value must be a token once unquoted.
    assert!(parse_element(r#"permessage-deflate; x="a b""#).is_err());
    assert!(parse_element(r#"permessage-deflate; x="10"#).is_err());
    assert!(parse_element("permessage deflate").is_err());
    assert!(parse_element("permessage-deflate; =1").is_err());
}

#[test]
fn window_bits_are_8_to_15_without_leading_zeros() {
    // RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15".
    for (v, ok) in
        [("8", true), ("15", true), ("9", true), ("7", false), ("16", false), ("08", false), ("", false), ("+9", false)]
    {
        assert_eq!(window_bits(v).is_some(), ok, "{v:?}");
    }
}

#[test]
fn a_server_takes_the_first_valid_offer_and_declines_the_rest() {
    let ours = DeflateConfig::default();
    // The browsers' offer.
    assert_eq!(
        negotiate(&offers(&["permessage-deflate; client_max_window_bits"]), &ours),
        Some(params(false, false, None, None))
    );
    // Invalid offers are skipped, not failed (§7.1): unknown, repeated, bad values, values on flags.
    for bad in [
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover=1",
        "x-webkit-deflate-frame",
    ] {
        assert_eq!(negotiate(&offers(&[bad]), &ours), None, "{bad}");
    }
    let listed = offers(&["x-other, permessage-deflate; foo", "permessage-deflate; server_max_window_bits=10"]);
    assert_eq!(negotiate(&listed, &ours), Some(params(false, false, Some(10), None)));
    // Quoted values are values (§9.1).
    let quoted = offers(&[r#"permessage-deflate; client_max_window_bits="12""#]);
    assert_eq!(negotiate(&quoted, &ours), Some(params(false, false, None, Some(12))));
}

#[test]
fn a_server_imposes_its_own_limits() {
    let strict = DeflateConfig::default()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(11)
        .client_max_window_bits(10);
    // A window asked for larger than ours becomes ours; smaller stays.
    let asked = offers(&["permessage-deflate; server_max_window_bits=13; client_max_window_bits=9"]);
    assert_eq!(negotiate(&asked, &strict), Some(params(true, true, Some(11), Some(9))));
    let bare = offers(&["permessage-deflate; client_max_window_bits"]);
    assert_eq!(negotiate(&bare, &strict), Some(params(true, true, Some(11), Some(10))));
    // §7.1.2.2: a client that did not send client_max_window_bits cannot be limited.
    let plain = offers(&["permessage-deflate"]);
    assert_eq!(negotiate(&plain, &strict), Some(params(true, true, Some(11), None)));
}

#[test]
fn the_server_response_states_the_agreement() {
    let p = params(true, false, Some(10), Some(9));
    assert_eq!(
        p.header_value(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
    );
    assert_eq!(offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
    let asking =
        DeflateConfig::default().server_no_context_takeover(true).server_max_window_bits(12).client_max_window_bits(11);
    assert_eq!(
        offer(&asking),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11"
    );
    // What a server sends, a client accepts as the same agreement.
    let ours = DeflateConfig::default();
    assert_eq!(accept_answer([p.header_value().as_str()].into_iter(), Some(&ours)), Ok(Some(p)));
}

#[test]
fn a_client_fails_on_answers_it_cannot_accept() {
    let ours =
        DeflateConfig::default().server_no_context_takeover(true).server_max_window_bits(10).client_max_window_bits(12);
    let answer = |v: &str| accept_answer([v].into_iter(), Some(&ours));
    assert_eq!(
        answer("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
        Ok(Some(params(true, false, Some(9), Some(12))))
    );
    for bad in [
        "permessage-deflate; server_max_window_bits=9",   // snct not granted
        "permessage-deflate; server_no_context_takeover", // smwb not granted
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=11", // above ours
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=13",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; foo",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9, permessage-deflate",
    ] {
        assert!(matches!(answer(bad), Err(HandshakeError::Extension(_))), "{bad}: {:?}", answer(bad));
    }
    // Another extension, or any extension when we offered none (RFC 6455 §4.1 item 5).
    assert!(matches!(answer("x-other"), Err(HandshakeError::ExtensionNotOffered(_))));
    assert!(matches!(
        accept_answer(["permessage-deflate"].into_iter(), None),
        Err(HandshakeError::ExtensionNotOffered(_))
    ));
    // No answer: the server declined; no compression.
    assert_eq!(accept_answer(std::iter::empty(), Some(&ours)), Ok(None));
}

/// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" compressed, then again with the context taken over.
#[test]
fn the_rfcs_examples_compress_and_inflate() {
    let config = DeflateConfig::default().threshold(0);
    let mut server = Codec::new(true, &DeflateParams::default(), &config);
    // zlib's level 1 finds the same bytes as the RFC's example for a string this short; the
    // second message refers back into the first (the RFC's own bytes for it are another
    // valid encoding, inflated below).
    assert_eq!(&server.compress(b"Hello", true)[..], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    let second = server.compress(b"Hello", true);
    assert!(second.len() < 7, "{second:?}");

    let mut client = Codec::new(false, &DeflateParams::default(), &config);
    let inflate = |c: &mut Codec, data: &[u8]| {
        let mut out = Vec::new();
        let mut input = [data, Codec::trailer()].concat();
        while !input.is_empty() {
            let (taken, _) = c.inflate(&input, &mut out, 1 << 10).expect("inflates");
            input.drain(..taken);
        }
        c.end_inflate();
        out
    };
    assert_eq!(inflate(&mut client, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), b"Hello");
    assert_eq!(inflate(&mut client, &[0xf2, 0x00, 0x11, 0x00, 0x00]), b"Hello");
    assert_eq!(inflate(&mut client, &second), b"Hello");
    // §7.2.3.3: a stored (uncompressed) block, and §7.2.3.4: a block with BFINAL set.
    assert_eq!(inflate(&mut client, &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]), b"Hello");
    assert_eq!(inflate(&mut client, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]), b"Hello");
    // After a BFINAL block the next message starts a fresh stream.
    assert_eq!(inflate(&mut client, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), b"Hello");
    let mut out = Vec::new();
    assert!(client.inflate(&[0xff, 0xff, 0xff], &mut out, 64).is_err(), "invalid block type");
}

#[test]
fn without_context_takeover_every_message_starts_fresh_and_8_bits_send_plain() {
    let config = DeflateConfig::default().threshold(0);
    let mut server = Codec::new(true, &params(true, false, None, None), &config);
    let first = server.compress(b"Hello", true);
    assert_eq!(server.compress(b"Hello", true), first);
    // zlib cannot deflate with a 256-byte window: a peer that limits us to 8 bits gets
    // plain messages, and we still inflate what it compresses.
    let narrow = Codec::new(true, &params(false, false, Some(8), None), &config);
    assert!(!narrow.compresses(1 << 20) && !narrow.compresses_fragments());
    let threshold = Codec::new(true, &DeflateParams::default(), &DeflateConfig::default());
    assert!(!threshold.compresses(63) && threshold.compresses(64));
}

#[test]
fn fragments_flush_as_they_go_and_only_the_last_loses_its_trailer() {
    let config = DeflateConfig::default();
    let mut c = Codec::new(false, &DeflateParams::default(), &config);
    let a = c.compress(b"first part, ", false);
    let b = c.compress(b"second part", true);
    assert!(a.ends_with(&TRAILER) && !b.ends_with(&TRAILER));
    let mut s = Codec::new(true, &DeflateParams::default(), &config);
    let mut out = Vec::new();
    for piece in [&a[..], &b[..], Codec::trailer()] {
        let mut input = piece;
        while !input.is_empty() {
            let (taken, _) = s.inflate(input, &mut out, 7).expect("inflates");
            input = &input[taken..];
        }
    }
    // Room of 7 bytes at a time: what is still inside the inflater comes out on later calls.
    loop {
        let len = out.len();
        s.inflate(&[], &mut out, 7).expect("inflates");
        if out.len() == len {
            break;
        }
    }
    assert_eq!(out, b"first part, second part");
}
