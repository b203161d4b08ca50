"""Operations: what an admin (cli/), a member's robot (robots/) or the web face asks for.
The only writers of list and member settings; stages read through db/ instead."""
