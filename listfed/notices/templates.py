"""The texts the robots send. A list can override the welcome and the goodbye
(`lists set LIST welcome_message TEXT`); every text may use these placeholders:
$list (LIST@DOMAIN), $description, $address (the person written to), $request,
$join, $leave, $owner (the robot addresses), and for confirmations $token, $confirm
(the address to reply to), $action, $expires.
"""

from __future__ import annotations

from string import Template

from listfed.listinfo import ListInfo

WELCOME = """\
Welcome to $list$about.

You are subscribed as $address.

To post, write to $list.
To leave, send any message to $leave.
For help with other commands (digest, no mail), write "help" to $request.
The people who run the list can be reached at $owner.
"""

GOODBYE = """\
$address has left $list. You will receive no more posts from it.

If this was a mistake, you can join again by writing to $join.
"""

CONFIRM = """\
Someone, probably you, asked to $action.

To confirm, just reply to this message, keeping the subject; or send a message to
$request whose first line is:

    confirm $token

If you did not ask for this, ignore this message: nothing will change.
This request expires on $expires.
"""

ALREADY_MEMBER = """\
Someone, probably you, asked to subscribe $address to $list, but it is subscribed
already. Nothing was changed.
"""

NOT_MEMBER = """\
Someone, probably you, asked to unsubscribe $address from $list, but it is not
subscribed. Nothing was changed.
"""

HELP = """\
This is the command address of $list$about.

Write commands one per line at the start of your message to $request
(the Subject counts as the first line):

    subscribe              join the list (we ask you to confirm)
    unsubscribe            leave the list (we ask you to confirm)
    set delivery regular   receive every post as it comes
    set delivery digest    receive the posts collected in one message now and then
    set delivery nomail    stay a member but receive nothing
    confirm CODE           confirm a request, with the code we sent you
    help                   this text

Simpler still: any message to $join joins, any message to $leave leaves.
To post, write to $list. The people who run it are at $owner.
"""

DISABLED = """\
Mail from $list to $address has failed repeatedly, so delivery to you is now
paused. You are still a member.

To resume, post to the list, or send "set delivery $mode" to $request and
reply to the confirmation we send you.
"""

OWNER_JOINED = """\
$address has joined $list ($how).

Members:  listfed members ls $list
"""

OWNER_LEFT = """\
$address has left $list ($how).
"""

OWNER_DISABLED = """\
Delivery from $list to $address has been paused after repeated bounces
(bounce score $score, threshold $threshold).

Re-enable it with:  listfed members set $list $address delivery_disabled false
"""

PROBE = """\
This is a test message from $list to $address.

Some mail from the list to this address has bounced. If you can read this, nothing
more is needed from you.
"""


def render(text: str, lst: ListInfo, address: str, **extra: str) -> str:
    """`text` with the placeholders filled; unknown ones are left as they are."""
    return Template(text).safe_substitute({**lst.placeholders(), "address": address, **extra})
