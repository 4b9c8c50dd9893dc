echo hello from a plain script
exit 0
