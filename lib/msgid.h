/* SPDX-License-Identifier: ISC */
/*
 * MESSAGE_IDs of the journal entries operators act on.  Each one has an
 * entry in systemd/rallyd.catalog (a test checks that the two agree).
 */
#ifndef RALLY_MSGID_H
#define RALLY_MSGID_H

#define MSGID_STARTED		"74a2dddae242403281d0eb53c96810bb"
#define MSGID_READY		"be8bbe93ee4943a38ef802d538942649"
#define MSGID_RELOADED		"9ffa61b5c1f7468882e41b64b4cba069"
#define MSGID_STOPPING		"4ea8f620aea146ca8196904222680ca9"
#define MSGID_STOPPED		"80094bbb8c1d4edea19ad2238729beb9"
#define MSGID_CONFIG_INVALID	"173a0848c2694de1b9b8ce3256001ccb"
#define MSGID_DB_CONNECTED	"ea1678b24f94496c8aba22559b7d4440"
#define MSGID_DB_LOST		"fd1894e1589745819fd4b77c76cf0aa9"
#define MSGID_JOB_RETRY		"904e7970153d4a949436d8e603fcf332"
#define MSGID_JOB_FAILED	"42afe158cb41424180c9e4bd92b2293f"
#define MSGID_JOB_LEASE_EXPIRED	"e44230565bb4444182ab6a30719b29ca"
#define MSGID_DELETION_OVERDUE	"23b732db186d4ad4a30916cbc288f9b5"
#define MSGID_KEYRING_INVALID	"15a9a4166f4c4c2296ca7963aba44209"
#define MSGID_GOOGLE_REVOKED	"fff667d254494fffb53455d77601ae0c"
#define MSGID_KEY_MISSING	"0c5d0e4f7a8b4e6f9d3c2b1a49e8f7d6"

#endif
