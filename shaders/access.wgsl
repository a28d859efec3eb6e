// Element access for one bound tensor buffer named BUF (the host substitutes the name).
fn BUF_bits(e: u32, dt: u32) -> u32 {
    return extract(BUF[word_of(e, dt)], e, dt);
}

fn BUF_f(e: u32, dt: u32) -> f32 {
    return bits_to_f(BUF_bits(e, dt), dt);
}

fn BUF_i(e: u32, dt: u32) -> i32 {
    return bits_to_i(BUF_bits(e, dt), dt);
}
