//! CAR v1: round trips, verification of every block, completeness, malformed input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use dataseal_transport::conformance::pattern;
use dataseal_transport::{
    Block, CarReader, CarWriter, Cid, Error, ImportParams, MemoryStore, Profile, Transport,
    import_bytes,
};

async fn car_of(roots: &[Cid], blocks: &[Block]) -> Vec<u8> {
    let mut writer = CarWriter::new(Vec::new(), roots).await.unwrap();
    for block in blocks {
        writer.write(block).await.unwrap();
    }
    writer.finish().await.unwrap()
}

async fn read_all(car: &[u8], complete: bool) -> Result<Vec<Block>, Error> {
    let mut reader = CarReader::new(car).await?;
    if complete {
        reader = reader.require_complete();
    }
    let mut blocks = Vec::new();
    while let Some(block) = reader.next_block().await? {
        blocks.push(block);
    }
    Ok(blocks)
}

#[tokio::test]
async fn round_trip_in_both_profiles() {
    for profile in [Profile::V1RawLeaves, Profile::V0] {
        let file = import_bytes(
            &pattern(180 * 100, 1),
            &ImportParams::new(profile, 100).unwrap(),
        );
        let car = car_of(&[file.root], &file.blocks).await;
        let blocks = read_all(&car, true).await.unwrap();
        assert_eq!(blocks, file.blocks);
        let reader = CarReader::new(&car[..]).await.unwrap();
        assert_eq!(reader.roots(), &[file.root]);
    }
}

#[tokio::test]
async fn a_tampered_block_is_an_integrity_failure_naming_it() {
    let file = import_bytes(
        &pattern(5000, 2),
        &ImportParams::new(Profile::V1RawLeaves, 1000).unwrap(),
    );
    let mut car = car_of(&[file.root], &file.blocks).await;
    let last = car.len() - 1;
    car[last] ^= 1; // inside the root, the last block written
    match read_all(&car, false).await {
        Err(Error::Integrity { cid }) => assert_eq!(cid, file.root),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn completeness_is_checked_on_request() {
    let file = import_bytes(
        &pattern(5000, 3),
        &ImportParams::new(Profile::V1RawLeaves, 1000).unwrap(),
    );
    let missing = *file.blocks[2].cid();
    let partial: Vec<Block> = file
        .blocks
        .iter()
        .filter(|b| *b.cid() != missing)
        .cloned()
        .collect();
    let car = car_of(&[file.root], &partial).await;
    assert_eq!(read_all(&car, false).await.unwrap().len(), partial.len());
    match read_all(&car, true).await {
        Err(Error::Incomplete { missing: m }) => assert_eq!(m, missing),
        other => panic!("{other:?}"),
    }
    // A missing root.
    let car = car_of(&[file.root], &file.blocks[..1]).await;
    assert!(matches!(
        read_all(&car, true).await,
        Err(Error::Incomplete { .. })
    ));
    // No roots: complete, since every block linked is in the file. Duplicated blocks
    // are fine.
    let mut twice = file.blocks.clone();
    twice.extend(file.blocks.clone());
    let car = car_of(&[], &twice).await;
    assert_eq!(read_all(&car, true).await.unwrap().len(), twice.len());
}

#[tokio::test]
async fn malformed_cars_are_typed_errors() {
    let block = Block::raw(&b"x"[..]);
    let good = car_of(&[*block.cid()], std::slice::from_ref(&block)).await;
    // Every truncation is malformed or, at a frame boundary, a shorter valid CAR.
    for cut in 0..good.len() {
        match read_all(&good[..cut], false).await {
            Ok(blocks) => assert!(blocks.is_empty(), "cut at {cut}"),
            Err(Error::Malformed { .. }) => {}
            Err(other) => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Zero-length header, zero-length frame, an oversized frame.
    assert!(matches!(
        read_all(&[0x00], false).await,
        Err(Error::Malformed { .. })
    ));
    let header_len = good[0] as usize + 1;
    let mut zero = good[..header_len].to_vec();
    zero.push(0);
    assert!(matches!(
        read_all(&zero, false).await,
        Err(Error::Malformed { .. })
    ));
    let mut huge = good[..header_len].to_vec();
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
    assert!(matches!(
        read_all(&huge, false).await,
        Err(Error::BlockTooLarge { .. })
    ));
    // A block over a lower limit.
    let big = Block::raw(vec![1u8; 5000]);
    let car = car_of(&[*big.cid()], std::slice::from_ref(&big)).await;
    let mut reader = CarReader::new(&car[..])
        .await
        .unwrap()
        .with_max_block_len(4096);
    assert!(matches!(
        reader.next_block().await,
        Err(Error::BlockTooLarge { limit: 4096, .. })
    ));
    // A frame whose CID does not parse.
    let mut bad_cid = good[..header_len].to_vec();
    bad_cid.extend_from_slice(&[3, 0x02, 0x55, 0x12]);
    assert!(matches!(
        read_all(&bad_cid, false).await,
        Err(Error::Malformed { .. })
    ));
    // A CID with a multihash other than SHA2-256 (identity).
    let mut identity = good[..header_len].to_vec();
    identity.extend_from_slice(&[6, 0x01, 0x55, 0x00, 0x01, b'a', b'a']);
    assert!(matches!(
        read_all(&identity, false).await,
        Err(Error::Malformed { .. })
    ));
}

#[tokio::test]
async fn export_import_between_stores() {
    let data = pattern(300 * 64 + 1, 4);
    let params = ImportParams::new(Profile::V1RawLeaves, 64).unwrap();
    let a = MemoryStore::new();
    let root = a.add(&mut &data[..], &params).await.unwrap();
    let mut car = Vec::new();
    let exported = a.export_car(&root, &mut car).await.unwrap();
    let b = MemoryStore::new();
    let imported = b.import_car(&mut &car[..]).await.unwrap();
    assert_eq!(exported, imported);
    assert_eq!(imported.bytes, exported.bytes);
    assert_eq!(b.len(), a.len());
    b.pin(&root).await.unwrap();
    let mut out = Vec::new();
    b.cat(&root, &mut out).await.unwrap();
    assert_eq!(out, data);
    // Exporting a DAG the store lacks part of fails, naming the block.
    let leaf = import_bytes(&data, &params).blocks[0].clone();
    a.remove(leaf.cid());
    match a.export_car(&root, &mut Vec::new()).await {
        Err(Error::NotFound(cid)) => assert_eq!(cid, *leaf.cid()),
        other => panic!("{other:?}"),
    }
}
