"""The email robots: -request, -join and -leave commands, confirmations (-confirm+TOKEN)
and moderators' replies. A skin like the command line: robots call ops/."""
