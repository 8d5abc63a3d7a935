//! Caps are granted exactly as the manifest declares, nothing more.
//! Manifest: slot 0 Console, slot 1 Timer, slot 2 Measure.
#![no_std]
#![no_main]

extern crate alloc;

use capos_rt::clients::{Console, Measure, Timer};
use capos_rt::{ring, Ctx, Error};
use capos_smokes::Checks;

capos_rt::main!(run);

fn run(ctx: &Ctx) -> i64 {
    let mut c = Checks::new("smoke-manifest", Console(0));
    c.check(ctx.caps == 3, "exactly 3 caps granted");
    c.check(Timer(1).now().is_ok_and(|t| t > 0), "slot 1 is a working Timer");
    c.check(Measure(2).mark("work").is_ok(), "slot 2 is a working Measure");
    c.check(matches!(Timer(3).now(), Err(Error::BadSlot)), "slot 3 (not granted) is BadSlot");
    c.check(
        matches!(ring::call(1, 9, &[], &mut []), Err(Error::BadMethod)),
        "a Timer has no method 9",
    );
    c.check(
        matches!(
            ring::call(0, capos_rt::clients::TIMER_SLEEP, &[], &mut []),
            Err(Error::BadMethod)
        ),
        "a Console is not a Timer (no method 1)",
    );
    c.check(
        matches!(ring::call(0, 7, &[], &mut []), Err(Error::BadMethod)),
        "Console has no method 7",
    );
    c.check(matches!(Timer(u32::MAX).now(), Err(Error::BadSlot)), "slot u32::MAX is BadSlot");
    c.finish()
}
