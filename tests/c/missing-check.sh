#!/bin/sh
echo "The Check library was not found when configure ran: install it (./bootstrap does) and re-run configure." >&2
exit 99
