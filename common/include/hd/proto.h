/* Short names for the generated protobuf-c types of package helpdesk.v1, and the text names
 * of its enums as people and rules files write them. */
#ifndef HD_PROTO_H
#define HD_PROTO_H

#include "helpdesk/v1/helpdesk.pb-c.h"

typedef Helpdesk__V1__Attribute HdAttribute;
typedef Helpdesk__V1__Customer HdCustomer;
typedef Helpdesk__V1__Account HdAccount;
typedef Helpdesk__V1__Location HdLocation;
typedef Helpdesk__V1__Problem HdProblem;
typedef Helpdesk__V1__Contact HdContact;
typedef Helpdesk__V1__SlaDeadlines HdSlaDeadlines;
typedef Helpdesk__V1__Ticket HdTicket;
typedef Helpdesk__V1__TicketEvent HdTicketEvent;
typedef Helpdesk__V1__Error HdError;
typedef Helpdesk__V1__SubmitContact HdSubmitContact;
typedef Helpdesk__V1__CreateTickets HdCreateTickets;
typedef Helpdesk__V1__GetTicket HdGetTicket;
typedef Helpdesk__V1__ListTickets HdListTickets;
typedef Helpdesk__V1__EventsSince HdEventsSince;
typedef Helpdesk__V1__GetCursor HdGetCursor;
typedef Helpdesk__V1__CommitCursor HdCommitCursor;
typedef Helpdesk__V1__WorkReady HdWorkReady;
typedef Helpdesk__V1__PrioritizeResult HdPrioritizeResult;
typedef Helpdesk__V1__RouteResult HdRouteResult;
typedef Helpdesk__V1__WorkResult HdWorkResult;
typedef Helpdesk__V1__Heartbeat HdHeartbeat;
typedef Helpdesk__V1__Request HdRequest;
typedef Helpdesk__V1__ContactReceipt HdContactReceipt;
typedef Helpdesk__V1__TicketDetail HdTicketDetail;
typedef Helpdesk__V1__TicketList HdTicketList;
typedef Helpdesk__V1__EventBatch HdEventBatch;
typedef Helpdesk__V1__Cursor HdCursor;
typedef Helpdesk__V1__WorkItem HdWorkItem;
typedef Helpdesk__V1__WorkAck HdWorkAck;
typedef Helpdesk__V1__Reply HdReply;
typedef Helpdesk__V1__TicketAction HdTicketAction;
typedef Helpdesk__V1__NextTicket HdNextTicket;
typedef Helpdesk__V1__SearchSolutions HdSearchSolutions;
typedef Helpdesk__V1__SlaSignal HdSlaSignal;
typedef Helpdesk__V1__RecordCommunication HdRecordCommunication;
typedef Helpdesk__V1__GetCommunication HdGetCommunication;
typedef Helpdesk__V1__EscalationRequest HdEscalationRequest;
typedef Helpdesk__V1__EscalationResult HdEscalationResult;
typedef Helpdesk__V1__SearchHit HdSearchHit;
typedef Helpdesk__V1__SearchResults HdSearchResults;
typedef Helpdesk__V1__SignalAck HdSignalAck;
typedef Helpdesk__V1__CommunicationStatus HdCommunicationStatus;

/* Text names: "P1".."P4"; "new", "triaged", ...; "phone", "email", ...; "low".."critical";
 * "created", "triaged", "queued", "taken", ...; "prioritize", "route", "escalate";
 * "first_response", "update", "resolution", "tier2", "tier3". Unknown values give "unknown". */
const char *hd_priority_name(Helpdesk__V1__Priority p);
const char *hd_priority_title(Helpdesk__V1__Priority p); /* "enterprise failure", ... */
const char *hd_status_name(Helpdesk__V1__Status s);
const char *hd_channel_name(Helpdesk__V1__Channel c);
const char *hd_level_name(Helpdesk__V1__Level l);
const char *hd_event_kind_name(Helpdesk__V1__EventKind k);
const char *hd_stage_name(Helpdesk__V1__Stage s);
const char *hd_error_code_name(Helpdesk__V1__ErrorCode c);
const char *hd_deadline_name(Helpdesk__V1__Deadline d); /* "first_response", "update", ... */

/* Parse a text name (case-insensitive; priorities also accept "1".."4"). Return 0 and set *out,
 * or -1 when the name is not one of the enum's values. */
int hd_priority_parse(const char *s, Helpdesk__V1__Priority *out);
int hd_status_parse(const char *s, Helpdesk__V1__Status *out);
int hd_channel_parse(const char *s, Helpdesk__V1__Channel *out);
int hd_level_parse(const char *s, Helpdesk__V1__Level *out);
int hd_event_kind_parse(const char *s, Helpdesk__V1__EventKind *out);
int hd_deadline_parse(const char *s, Helpdesk__V1__Deadline *out);

#endif
