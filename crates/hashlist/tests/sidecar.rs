//! The sidecar written from a folder of segments reads back with the core's parser and
//! verifies the very bytes on disk, byte ranges included.
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use hlsmesh_core::integrity::{HashList, Key, Verdict};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hlsmesh-hashlist-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn writes_a_sidecar_that_verifies_every_segment() {
    let dir = scratch("vod");
    let segs: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 1000 + usize::from(i)]).collect();
    let mut playlist = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n");
    for (i, data) in segs.iter().enumerate() {
        fs::write(dir.join(format!("seg{i}.ts")), data).unwrap();
        playlist += &format!("#EXTINF:2.0,\nseg{i}.ts?token=abc\n");
    }
    fs::write(dir.join("all.ts"), b"0123456789").unwrap();
    playlist += "#EXTINF:2.0,\n#EXT-X-BYTERANGE:4@2\nall.ts\n#EXTINF:2.0,\n#EXT-X-BYTERANGE:3\nall.ts\n#EXT-X-ENDLIST\n";
    let path = dir.join("index.m3u8");
    fs::write(&path, playlist).unwrap();

    let text = hlsmesh_hashlist::hash_list(&path).unwrap();
    let list = HashList::parse(&text).unwrap();
    assert_eq!(list.len(), 5);
    for (i, data) in segs.iter().enumerate() {
        let sn = 5 + i as u64;
        assert_eq!(list.verify(Key::Sn(sn), data), Verdict::Ok);
        let url = format!("https://cdn.test/vod/seg{i}.ts?token=other");
        assert_eq!(list.verify(Key::Url(&url), data), Verdict::Ok);
        assert_eq!(list.verify(Key::Sn(sn), &data[1..]), Verdict::Mismatch);
    }
    assert_eq!(list.verify(Key::Sn(8), b"2345"), Verdict::Ok);
    assert_eq!(list.verify(Key::Sn(9), b"678"), Verdict::Ok);

    // The binary prints the same text.
    let out = Command::new(env!("CARGO_BIN_EXE_hlsmesh-hashlist"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn refuses_what_it_cannot_hash() {
    let dir = scratch("bad");
    let path = dir.join("index.m3u8");
    fs::write(&path, "#EXTM3U\n#EXTINF:2,\nhttps://cdn.test/a.ts\n").unwrap();
    assert!(hlsmesh_hashlist::hash_list(&path)
        .unwrap_err()
        .to_string()
        .contains("not relative"));
    fs::write(&path, "#EXTM3U\n#EXTINF:2,\nmissing.ts\n").unwrap();
    assert!(hlsmesh_hashlist::hash_list(&path).is_err());
    fs::write(dir.join("short.ts"), b"12").unwrap();
    fs::write(
        &path,
        "#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:5@0\nshort.ts\n",
    )
    .unwrap();
    assert!(hlsmesh_hashlist::hash_list(&path)
        .unwrap_err()
        .to_string()
        .contains("past the end"));
    let out = Command::new(env!("CARGO_BIN_EXE_hlsmesh-hashlist"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    fs::remove_dir_all(&dir).unwrap();
}
