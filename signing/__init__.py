"""XML signatures and certificates for edXML packets. No I/O, no clock reads."""
