//! Names the region of every byte of a well-formed message, independently of
//! the core's parser (only the header's total length is taken from it, as a
//! cross-check).

use kms_envelope_core::{Header, Limits};

/// One name per byte of `msg`.
pub fn regions(msg: &[u8]) -> Vec<&'static str> {
    let mut r: Vec<&'static str> = Vec::with_capacity(msg.len());
    let mut pos = 0usize;
    let u16_at = |p: usize| u16::from_be_bytes([msg[p], msg[p + 1]]) as usize;
    let u32_at = |p: usize| u32::from_be_bytes([msg[p], msg[p + 1], msg[p + 2], msg[p + 3]]);
    let push = |r: &mut Vec<&'static str>, pos: &mut usize, name: &'static str, n: usize| {
        r.extend(std::iter::repeat_n(name, n));
        *pos += n;
    };
    let v2 = msg[0] == 2;
    push(&mut r, &mut pos, "version", 1);
    if !v2 {
        push(&mut r, &mut pos, "message_type", 1);
    }
    let suite_id = u16_at(pos);
    push(&mut r, &mut pos, "suite_id", 2);
    push(&mut r, &mut pos, "message_id", if v2 { 32 } else { 16 });
    let ec_len = u16_at(pos);
    push(&mut r, &mut pos, "ec_len", 2);
    push(&mut r, &mut pos, "ec", ec_len);
    let n = u16_at(pos);
    push(&mut r, &mut pos, "edk_count", 2);
    for _ in 0..n {
        let l = u16_at(pos);
        push(&mut r, &mut pos, "edk_len", 2);
        push(&mut r, &mut pos, "edk_provider_id", l);
        let l = u16_at(pos);
        push(&mut r, &mut pos, "edk_len", 2);
        // Raw AES provider info: key name || tag bits (4) || IV length (4) || IV (12).
        push(&mut r, &mut pos, "edk_info_name", l - 20);
        push(&mut r, &mut pos, "edk_info_lengths", 8);
        push(&mut r, &mut pos, "edk_info_iv", 12);
        let l = u16_at(pos);
        push(&mut r, &mut pos, "edk_len", 2);
        push(&mut r, &mut pos, "edk_ciphertext", l);
    }
    push(&mut r, &mut pos, "content_type", 1);
    if !v2 {
        push(&mut r, &mut pos, "reserved", 4);
        push(&mut r, &mut pos, "iv_length", 1);
    }
    let frame_length = u32_at(pos) as usize;
    push(&mut r, &mut pos, "frame_length", 4);
    if v2 {
        // Both committing suites carry a 32-byte commit key.
        assert!(matches!(suite_id, 0x0478 | 0x0578));
        push(&mut r, &mut pos, "suite_data", 32);
    } else {
        push(&mut r, &mut pos, "header_iv", 12);
    }
    push(&mut r, &mut pos, "header_tag", 16);
    let parsed = Header::parse(msg, &Limits::default())
        .expect("valid header")
        .expect("complete header");
    assert_eq!(
        parsed.total_len, pos,
        "layout walker disagrees with the parser"
    );
    loop {
        if u32_at(pos) != 0xFFFF_FFFF {
            push(&mut r, &mut pos, "frame_seq", 4);
            push(&mut r, &mut pos, "frame_iv", 12);
            push(&mut r, &mut pos, "frame_ciphertext", frame_length);
            push(&mut r, &mut pos, "frame_tag", 16);
        } else {
            push(&mut r, &mut pos, "final_marker", 4);
            push(&mut r, &mut pos, "final_seq", 4);
            push(&mut r, &mut pos, "final_iv", 12);
            let len = u32_at(pos) as usize;
            push(&mut r, &mut pos, "final_length", 4);
            push(&mut r, &mut pos, "final_ciphertext", len);
            push(&mut r, &mut pos, "final_tag", 16);
            break;
        }
    }
    if pos < msg.len() {
        let len = u16_at(pos);
        push(&mut r, &mut pos, "footer_length", 2);
        push(&mut r, &mut pos, "footer_signature", len);
    }
    assert_eq!(
        r.len(),
        msg.len(),
        "layout does not cover the message exactly"
    );
    r
}

/// Offsets where the body's frames (regular and final) start, then the
/// offset of the footer (or the end of the message).
pub fn unit_boundaries(msg: &[u8]) -> Vec<usize> {
    let regions = regions(msg);
    let mut out = Vec::new();
    for (i, name) in regions.iter().enumerate() {
        let starts_unit = matches!(*name, "frame_seq" | "final_marker" | "footer_length");
        if starts_unit && (i == 0 || regions[i - 1] != *name) {
            out.push(i);
        }
    }
    if !regions.contains(&"footer_length") {
        out.push(msg.len());
    }
    out
}
