/* SPDX-License-Identifier: ISC */
/*
 * push-secret: publishes the SHA-256 of the Gmail push secret
 * (google.push_token_file) in rally.push_secrets, where rally.hook_gmail()
 * checks the secret rally.cgi is given against it: rally_web cannot read
 * the table, and rallyd's group may read the file.  main.c loads the file
 * at start-up and on SIGHUP, and publishes after loading and after every
 * (re)connect, so a restored or failed-over database is brought up to date.
 */
#ifndef RALLYD_PUSH_SECRET_H
#define RALLYD_PUSH_SECRET_H

struct rallyd;

/*
 * Reads the file named in d->conf and keeps its hash.  An unset key leaves
 * the database's entry alone (another instance may hold the file); a file
 * that cannot be used is logged and the hash loaded before is kept.
 */
void push_secret_load(struct rallyd *d);
/* Stores the hash loaded, if any, when the database is connected. */
void push_secret_publish(struct rallyd *d);

#endif
