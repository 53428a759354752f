"""XSDs for edXML document and status packets, and the code that loads them."""
