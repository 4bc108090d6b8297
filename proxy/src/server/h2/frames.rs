//! Frame boundaries in one direction of an HTTP/2 connection, followed over a byte stream cut
//! anywhere: what the flood limits of [`super::guard`] count (frames, answers owed, payload,
//! control-frame bytes).

/// What a stretch of bytes held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Frames that start in it.
    pub frames: usize,
    /// Of those, frames the receiver must answer (PING and SETTINGS without ACK).
    pub answers: usize,
    /// Payload bytes of DATA, HEADERS and CONTINUATION frames in it.
    pub payload: u64,
    /// Bytes (header and payload) of the other frames that start in it: nginx adds those it
    /// sends to its byte count (`ngx_http_v2_frame_handler`).
    pub control: u64,
}

/// Frame boundaries in one direction of the connection.
#[derive(Default)]
pub struct Frames {
    /// Bytes left in the current frame's payload (or the preface).
    pub skip: usize,
    /// The current frame's payload counts as payload.
    counted: bool,
    /// Frame header bytes gathered so far.
    head: [u8; 9],
    pub have: usize,
}

impl Frames {
    /// Starts after `skip` bytes that are not frames (the client's connection preface).
    pub fn after(skip: usize) -> Frames {
        Frames {
            skip,
            ..Frames::default()
        }
    }

    /// True inside a frame (or a frame header).
    pub fn partial(&self) -> bool {
        self.skip > 0 || self.have > 0
    }

    /// Follows `bytes`.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Seen {
        let mut seen = Seen::default();
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                if self.counted {
                    seen.payload += n as u64;
                }
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.have).min(bytes.len());
            self.head[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 9 {
                self.have = 0;
                seen.frames += 1;
                let h = &self.head;
                self.skip = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                // DATA, HEADERS, CONTINUATION (and PUSH_PROMISE, which nginx sends with
                // its own handler too).
                self.counted = matches!(h[3], 0 | 1 | 9);
                if !matches!(h[3], 0 | 1 | 5 | 9) {
                    seen.control += 9 + self.skip as u64;
                }
                if matches!(h[3], 4 | 6) && h[4] & 1 == 0 {
                    seen.answers += 1;
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::{Frames, Seen};

    #[test]
    fn frames_are_followed_across_splits() {
        let mut f = Frames::after(24);
        let mut bytes = vec![b'P'; 24];
        // PING (8 bytes), DATA (5 bytes), SETTINGS (0 bytes), SETTINGS ACK.
        bytes.extend([0, 0, 8, 6, 0, 0, 0, 0, 0]);
        bytes.extend([1; 8]);
        bytes.extend([0, 0, 5, 0, 0, 0, 0, 0, 1]);
        bytes.extend(b"hello");
        bytes.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
        bytes.extend([0, 0, 0, 4, 1, 0, 0, 0, 0]);
        let mut all = Seen::default();
        for chunk in bytes.chunks(5) {
            let s = f.feed(chunk);
            all.frames += s.frames;
            all.answers += s.answers;
            all.payload += s.payload;
            all.control += s.control;
        }
        assert_eq!(
            all,
            Seen {
                frames: 4,
                answers: 2,
                payload: 5,
                control: 17 + 9 + 9
            }
        );
        assert!(!f.partial());
    }
}
