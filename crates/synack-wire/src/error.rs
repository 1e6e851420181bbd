//! The error type of every parser and builder in this crate.

/// Why a packet could not be parsed or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer is shorter than the header or the length it declares.
    #[error("packet truncated: need {needed} bytes, have {have}")]
    Truncated {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// The IP version nibble is neither 4 nor 6, or not the one expected.
    #[error("unsupported IP version {0}")]
    BadVersion(u8),
    /// A header length field is smaller than the fixed header.
    #[error("bad header length {0}")]
    BadHeaderLength(usize),
    /// The checksum does not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// An option's length byte is invalid or runs past the option space.
    #[error("malformed option (kind {kind})")]
    BadOption {
        /// The option kind byte.
        kind: u8,
    },
    /// The packet is an IPv4 fragment (not reassembled by synack).
    #[error("IPv4 fragment")]
    Fragment,
    /// The IPv6 extension-header chain is malformed or too long.
    #[error("bad IPv6 extension header chain")]
    BadExtensionHeader,
    /// The output buffer is too small for the packet being built.
    #[error("output buffer too small: need {needed} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// More options than fit in the 40 bytes of TCP option space.
    #[error("TCP options exceed 40 bytes")]
    OptionsTooLong,
    /// The ICMP message is not one synack handles.
    #[error("unsupported ICMP type {0}")]
    UnsupportedIcmp(u8),
    /// Address families of source and destination differ.
    #[error("mixed IPv4 and IPv6 addresses")]
    MixedFamilies,
}

/// Checks that `buf` holds at least `needed` bytes.
pub(crate) fn need(buf: &[u8], needed: usize) -> Result<(), WireError> {
    if buf.len() < needed {
        Err(WireError::Truncated { needed, have: buf.len() })
    } else {
        Ok(())
    }
}

/// Checks that an output buffer holds at least `needed` bytes.
pub(crate) fn room(buf: &[u8], needed: usize) -> Result<(), WireError> {
    if buf.len() < needed {
        Err(WireError::BufferTooSmall { needed, have: buf.len() })
    } else {
        Ok(())
    }
}
