// Stores into the output buffer, bound twice: OUT_w as plain words (4- and 8-byte dtypes, the
// fast path) and OUT_a as atomics, so that dtypes narrower than a word can be written by
// neighbouring invocations without losing each other's bytes.
fn OUT_store_w(e: u32, dt: u32, b: u32) {
    if (dt == DT_I64) {
        OUT_w[2u * e] = b;
        OUT_w[2u * e + 1u] = hi_word(b);
    } else {
        OUT_w[e] = b;
    }
}

fn OUT_store_a(e: u32, dt: u32, b: u32) {
    switch dt {
        case 0u, 1u, 2u: {
            let sh = (e & 3u) * 8u;
            atomicAnd(&OUT_a[e >> 2u], ~(0xffu << sh));
            atomicOr(&OUT_a[e >> 2u], (b & 0xffu) << sh);
        }
        case 3u, 6u, 7u: {
            let sh = (e & 1u) * 16u;
            atomicAnd(&OUT_a[e >> 1u], ~(0xffffu << sh));
            atomicOr(&OUT_a[e >> 1u], (b & 0xffffu) << sh);
        }
        case 5u: {
            atomicStore(&OUT_a[2u * e], b);
            atomicStore(&OUT_a[2u * e + 1u], hi_word(b));
        }
        default: {
            atomicStore(&OUT_a[e], b);
        }
    }
}
