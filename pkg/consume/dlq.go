package consume

import "strconv"

// Headers the engine sets on every dead letter (contract section 4: the DLQ keeps the original
// body and headers and adds these). Handlers may add more through DeadLetter's headers.
const (
	HeaderDLQReason     = "Hookline-Dlq-Reason"
	HeaderDLQStreamSeq  = "Hookline-Dlq-Stream-Seq"
	HeaderDLQDeliveries = "Hookline-Dlq-Deliveries"
	HeaderDLQError      = "Hookline-Dlq-Error"
	HeaderDLQSubject    = "Hookline-Dlq-Subject"
	HeaderDLQStream     = "Hookline-Dlq-Stream"
	HeaderDLQConsumer   = "Hookline-Dlq-Consumer"
	HeaderDLQAt         = "Hookline-Dlq-At"
)

// DLQStream is the stream that stores dead letters; it captures DLQSubject(anything).
const DLQStream = "DLQ"

// DLQSubject is where a message from original is dead-lettered.
func DLQSubject(original string) string {
	return "dlq." + original
}

// DLQMsgID is the Nats-Msg-Id of the dead letter of stream sequence seq given up by the durable
// consumer: a second dead-lettering of the same message by the same durable falls in the DLQ's
// duplicate window and is dropped, while other durables on the same stream still get theirs.
func DLQMsgID(stream string, seq uint64, consumer string) string {
	return "dlq:" + stream + ":" + strconv.FormatUint(seq, 10) + ":" + consumer
}
