"""The voice portal's Application Interface web service (EPM outcall): the SOAP framing,
the HTTPS client with Digest authentication, the ``Telephony`` the engine dials through,
and a loopback emulator serving the same WSDL."""
