//! Binance request signing against the documented vectors (venues.md B2.1, B2.2) and cases derived from them.

use ballast_venue_binance::signing::{
    Params, Signer, Verifier, decode_component, sign_split, signed_text,
};

const API_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const DOC_PAYLOAD: &str = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
const DOC_SIG: &str = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";

const ED_PEM_BODY: &str = "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
const ED_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const ED_PAYLOAD: &str = "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918&recvWindow=5000";
const ED_SIG_ENCODED: &str = "XtZirsmmi0noRzUfkqktvkVfxpkq%2FWtbLg2UOL3QGYdUBZVlqOBEMuEVw8zioY93N54NcKj9UuAXQEa9zgTDBg%3D%3D";

fn doc_params() -> Params {
    Params::new()
        .with("symbol", "LTCBTC")
        .with("side", "BUY")
        .with("type", "LIMIT")
        .with("timeInForce", "GTC")
        .with("quantity", "1")
        .with("price", "0.1")
        .with("recvWindow", 5000)
        .with("timestamp", 1499827319559i64)
}

#[test]
fn hmac_documented_example() {
    let s = Signer::hmac(API_SECRET);
    assert_eq!(s.sign(DOC_PAYLOAD.as_bytes()), DOC_SIG);
    // Built with the parameter builder: the exact query string the docs send.
    let p = doc_params();
    assert_eq!(p.as_str(), DOC_PAYLOAD);
    assert_eq!(p.signed(&s), format!("{DOC_PAYLOAD}&signature={DOC_SIG}"));
}

#[test]
fn hmac_over_query_plus_body_has_no_separator() {
    let s = Signer::hmac(API_SECRET);
    // The docs' "mixed" case: part in the query, part in the body; the signed text is their concatenation.
    let q = Params::new()
        .with("symbol", "LTCBTC")
        .with("side", "BUY")
        .with("type", "LIMIT")
        .with("timeInForce", "GTC");
    let b = Params::new()
        .with("quantity", "1")
        .with("price", "0.1")
        .with("recvWindow", 5000)
        .with("timestamp", 1499827319559i64);
    let (query, body) = sign_split(q, b, &s);
    let expected = s.sign(
        b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
    );
    assert_eq!(
        body,
        format!(
            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature={expected}"
        )
    );
    // Different from the all-in-query signature: the missing `&` matters.
    assert_ne!(expected, DOC_SIG);
    // The server side rebuilds the same text from the raw bytes and accepts it.
    let (text, sig) = signed_text(&query, &body);
    assert!(Verifier::hmac(API_SECRET).verify(text.as_bytes(), sig.unwrap()));
    // Upper-case hex is accepted too (compared case-insensitively).
    assert!(Verifier::hmac(API_SECRET).verify(text.as_bytes(), &sig.unwrap().to_uppercase()));
    // One changed byte is not.
    let tampered = text.replace("price=0.1", "price=0.2");
    assert!(!Verifier::hmac(API_SECRET).verify(tampered.as_bytes(), sig.unwrap()));
    assert!(!Verifier::hmac("other").verify(text.as_bytes(), sig.unwrap()));
}

#[test]
fn non_ascii_values_are_percent_encoded_before_signing() {
    let s = Signer::hmac(API_SECRET);
    let p = Params::new()
        .with("symbol", "１２３４５６")
        .with("side", "BUY")
        .with("newClientOrderId", "a b+c/é")
        .with("timestamp", 1499827319559i64);
    let text = p.as_str().to_string();
    assert_eq!(
        text,
        "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&newClientOrderId=a%20b%2Bc%2F%C3%A9&timestamp=1499827319559"
    );
    assert!(text.is_ascii());
    let wire = p.signed(&s);
    let sig = wire.rsplit_once("signature=").unwrap().1;
    assert_eq!(sig, s.sign(text.as_bytes()));
    assert_eq!(decode_component("a%20b%2Bc%2F%C3%A9").unwrap(), "a b+c/é");
}

#[test]
fn ed25519_vector() {
    let s = Signer::ed25519_from_pem(ED_PEM_BODY).unwrap();
    assert_eq!(s.sign(ED_PAYLOAD.as_bytes()), ED_SIG_ENCODED);
    // The PEM-wrapped form reads the same.
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{ED_PEM_BODY}\n-----END PRIVATE KEY-----\n");
    assert_eq!(
        Signer::ed25519_from_pem(&pem)
            .unwrap()
            .sign(ED_PAYLOAD.as_bytes()),
        ED_SIG_ENCODED
    );
    // Its public key is the RFC 8032 test-1 key, and verifies the signature as sent.
    let v = Verifier::ed25519_public(ED_PUBLIC).unwrap();
    assert!(v.verify(ED_PAYLOAD.as_bytes(), ED_SIG_ENCODED));
    assert!(!v.verify(b"symbol=BTCUSDT", ED_SIG_ENCODED));
    assert_eq!(
        format!("{:?}", s.verifier().unwrap()),
        format!("Verifier::Ed25519({ED_PUBLIC})")
    );
    // Not percent-encoded, the base64 `+`s and `/`s would change meaning: the encoded form must be sent.
    let raw =
        "XtZirsmmi0noRzUfkqktvkVfxpkq/WtbLg2UOL3QGYdUBZVlqOBEMuEVw8zioY93N54NcKj9UuAXQEa9zgTDBg==";
    assert!(v.verify(ED_PAYLOAD.as_bytes(), raw));
}

#[test]
fn ed25519_over_split_query_and_body() {
    let s = Signer::ed25519_from_pem(ED_PEM_BODY).unwrap();
    let q = Params::new().with("symbol", "BTCUSDT").with("side", "SELL");
    let b = Params::new()
        .with("type", "LIMIT")
        .with("timeInForce", "GTC")
        .with("quantity", 1)
        .with("price", "0.2")
        .with("timestamp", 1668481559918i64)
        .with("recvWindow", 5000);
    let (query, body) = sign_split(q, b, &s);
    let (text, sig) = signed_text(&query, &body);
    assert_eq!(
        text,
        "symbol=BTCUSDT&side=SELLtype=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918&recvWindow=5000"
    );
    assert!(s.verifier().unwrap().verify(text.as_bytes(), sig.unwrap()));
}
