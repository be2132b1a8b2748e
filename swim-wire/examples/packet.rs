//! Builds a datagram the way a member would (a ping carrying gossip), prints
//! its bytes and what a receiver decodes, then shows what a damaged copy
//! produces: `cargo run -p swim-wire --example packet`.

#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::net::SocketAddr;

use swim_wire::*;

fn main() -> Result<()> {
    let addrs = [SocketAddr::from(([10, 0, 0, 7], 7946)), SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 7946))];
    let header = Header { label: b"prod", ..Header::default() };
    let mut buf = [0u8; DEFAULT_BUDGET];
    let mut w = PacketWriter::new(&mut buf, &header, DEFAULT_BUDGET)?;
    w.push(&Message::Ping(Ping {
        seq: 17,
        source: b"node-a",
        target: b"node-b",
        target_generation: 1,
        target_incarnation: 3,
    }))?;
    w.push(&Message::Alive(Alive {
        generation: 1,
        incarnation: 5,
        name: b"node-c",
        addrs: Addrs::from_slice(&addrs),
        meta: b"zone=eu-1",
    }))?;
    w.push(&Message::Suspect(Suspect { generation: 1, incarnation: 2, name: b"node-d", by: b"node-a" }))?;
    w.push(&Message::UserBroadcast(UserBroadcast {
        generation: 1,
        seq: 1,
        ttl_ms: 15_000,
        origin: b"node-a",
        payload: b"deploy v42",
    }))?;
    let len = w.finish()?;

    println!("{len} bytes on the wire:");
    for chunk in buf[..len].chunks(16) {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = chunk.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect();
        println!("  {:<48} {text}", hex.join(" "));
    }

    let packet = Packet::parse(&buf[..len], &DecodeOptions::default())?;
    println!("\ndecoded: label={:?}", String::from_utf8_lossy(packet.header().label));
    println!("  primary   {:?}", packet.primary());
    for message in packet.piggyback() {
        println!("  piggyback {message:?}");
    }

    let mut damaged = buf;
    damaged[24] = 0xff; // the length of the ping's target name
    match Packet::parse(&damaged[..len], &DecodeOptions::default()) {
        Ok(_) => println!("\nthe damaged copy still decodes"),
        Err(e) => println!("\na damaged copy is refused: {e}"),
    }
    Ok(())
}
