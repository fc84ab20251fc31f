/* The rules files the end-to-end tests run with, written by the tests themselves so every
 * expectation can be read next to the rule that makes it. */
#ifndef HD_TEST_RULES_H
#define HD_TEST_RULES_H

/* Three problems of one contact in three languages each hit their own rule:
 *   Arabic "the network is down"   -> ar-network-down, P1 -> network-p1: network-ops, tier 2
 *   Urdu "the email server ..."    -> ur-email-broken, P2 -> email:      messaging, tier 1, imran
 *   French "Imprimante en panne"   -> fr-printer,      P3 -> printers-paris: site-paris, tier 1
 * Anything else falls to the matrix or the default P4 -> the default queue service-desk. */
#define HT_PRIORITY_RULES                                                                  \
    "# priority rules of the end-to-end tests\n"                                           \
    "rules:\n"                                                                             \
    "  - name: ar-network-down\n"                                                          \
    "    when:\n"                                                                          \
    "      category: [network]\n"                                                          \
    "      keywords: [\"متوقفة\"]\n"                                                       \
    "    priority: P1\n"                                                                   \
    "  - name: ur-email-broken\n"                                                          \
    "    when:\n"                                                                          \
    "      category: email\n"                                                              \
    "      keywords: [\"کام نہیں\"]\n"                                                     \
    "    priority: P2\n"                                                                   \
    "  - name: fr-printer\n"                                                               \
    "    when:\n"                                                                          \
    "      keywords: [imprimante]\n"                                                       \
    "    priority: P3\n"                                                                   \
    "matrix:\n"                                                                            \
    "  critical: {critical: P1}\n"                                                         \
    "default: P4\n"

#define HT_ROUTING_RULES                                                                   \
    "# routing rules of the end-to-end tests\n"                                            \
    "rules:\n"                                                                             \
    "  - name: network-p1\n"                                                               \
    "    when:\n"                                                                          \
    "      category: [network]\n"                                                          \
    "      priority: [P1]\n"                                                               \
    "    queue: network-ops\n"                                                             \
    "    tier: 2\n"                                                                        \
    "  - name: email\n"                                                                    \
    "    when:\n"                                                                          \
    "      category: email\n"                                                              \
    "    queue: messaging\n"                                                               \
    "    tier: 1\n"                                                                        \
    "    assignee: imran\n"                                                                \
    "  - name: printers-paris\n"                                                           \
    "    when:\n"                                                                          \
    "      category: printing\n"                                                           \
    "      city: Paris\n"                                                                  \
    "    queue: site-paris\n"                                                              \
    "    tier: 1\n"                                                                        \
    "default: {queue: service-desk, tier: 1}\n"

#endif
