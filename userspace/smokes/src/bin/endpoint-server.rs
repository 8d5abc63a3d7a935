//! Server of smoke-endpoint: echoes each call reversed until it gets "quit".
//! Caps: slot 0 Console, slot 1 Endpoint (receive).
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::clients::Endpoint;
use capos_rt::Ctx;

capos_rt::main!(run);

fn run(_ctx: &Ctx) -> i64 {
    let ep = Endpoint(1);
    loop {
        let Ok((id, data)) = ep.receive() else { return 2 };
        if data == b"quit" {
            let _ = ep.reply(id, b"bye");
            return 0;
        }
        let mut r = data.clone();
        r.reverse();
        if ep.reply(id, &r).is_err() {
            return 3;
        }
    }
}
