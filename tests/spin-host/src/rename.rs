//! Bridges a WASI 0.3 release candidate to the final 0.3.0 that wasmtime 48 implements.
//!
//! Released Spin 4.0.x (and the spin-sdk 6.0.0 Lobby pins) speaks
//! `wasi:*@0.3.0-rc-2026-03-15`; wasmtime 48.0.8's `wasmtime-wasi`/`wasmtime-wasi-http` speak
//! `wasi:*@0.3.0`. The two WIT sets are identical apart from the version strings (checked: the
//! only other difference is a doc link, and `exit-with-code` being `@unstable` in the rc), so
//! the host renames the component's top-level imports and exports before compiling it. Only the
//! names in the outermost import (10) and export (11) sections change; everything inside refers
//! to them by index.

use anyhow::{bail, Context, Result};

const RC: &str = "@0.3.0-rc-2026-03-15";
const FINAL: &str = "@0.3.0";

fn read_leb(b: &[u8], pos: &mut usize) -> Result<u32> {
    let mut result: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos).context("truncated LEB128")?;
        *pos += 1;
        result |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 35 {
            bail!("LEB128 too long");
        }
    }
    u32::try_from(result).context("LEB128 overflows u32")
}

fn write_leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let mut byte = (v & 0x7f) as u8;
        v >>= 7;
        if v != 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if v == 0 {
            break;
        }
    }
}

/// Returns the component with `@0.3.0-rc-2026-03-15` names renamed, and how many it renamed.
pub fn wasi_rc_to_final(bytes: &[u8]) -> Result<(Vec<u8>, usize)> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        bail!("not a WebAssembly binary");
    }
    if bytes[4..8] != [0x0d, 0x00, 0x01, 0x00] {
        // A core module (or another layer): leave it to wasmtime to judge.
        return Ok((bytes.to_vec(), 0));
    }
    let mut out = bytes[0..8].to_vec();
    let mut pos = 8;
    let mut renamed = 0;
    while pos < bytes.len() {
        let id = bytes[pos];
        pos += 1;
        let size = read_leb(bytes, &mut pos)? as usize;
        let start = pos;
        let end = start.checked_add(size).filter(|e| *e <= bytes.len());
        let end = end.context("section runs past the end")?;
        let content = &bytes[start..end];
        pos = end;
        if id != 10 && id != 11 {
            out.push(id);
            write_leb(&mut out, size as u32);
            out.extend_from_slice(content);
            continue;
        }
        let new = rename_items(id, content, start, &mut renamed)?;
        out.push(id);
        write_leb(&mut out, new.len() as u32);
        out.extend_from_slice(&new);
    }
    Ok((out, renamed))
}

/// Re-encodes an import or export section with renamed names; every item's bytes after its
/// name are copied as they are (their ends come from wasmparser's item offsets).
fn rename_items(id: u8, content: &[u8], offset: usize, renamed: &mut usize) -> Result<Vec<u8>> {
    let reader = wasmparser::BinaryReader::new(content, offset);
    let starts: Vec<usize> = if id == 10 {
        wasmparser::ComponentImportSectionReader::new(reader)?
            .into_iter_with_offsets()
            .map(|r| r.map(|(o, _)| o - offset))
            .collect::<Result<_, _>>()?
    } else {
        wasmparser::ComponentExportSectionReader::new(reader)?
            .into_iter_with_offsets()
            .map(|r| r.map(|(o, _)| o - offset))
            .collect::<Result<_, _>>()?
    };
    let mut p = 0;
    let count = read_leb(content, &mut p)?;
    let mut out = Vec::with_capacity(content.len());
    write_leb(&mut out, count);
    for (i, &item) in starts.iter().enumerate() {
        let item_end = starts.get(i + 1).copied().unwrap_or(content.len());
        let mut q = item;
        let kind = content[q];
        q += 1;
        if kind > 1 {
            // Names with options (0x02): copied as they are.
            out.extend_from_slice(&content[item..item_end]);
            continue;
        }
        let len = read_leb(content, &mut q)? as usize;
        let name = std::str::from_utf8(&content[q..q + len]).context("name is not UTF-8")?;
        q += len;
        let name = if name.contains(RC) {
            *renamed += 1;
            name.replace(RC, FINAL)
        } else {
            name.to_string()
        };
        out.push(kind);
        write_leb(&mut out, name.len() as u32);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&content[q..item_end]);
    }
    Ok(out)
}
