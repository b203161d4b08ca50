"""What a list writes to one person or to its owners: the message itself (`message`), the
texts (`templates`), rate-limited robot replies (`replies`), forwarding to the owners
(`owners`) and the rejection notice (`rejection`). Below ops/ and the robots, so that
bounces, moderation and bridges can write without reaching up."""
