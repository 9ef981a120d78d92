import Testing

@testable import GatewaySession

/// The facts of a 2026-07-28 call whose upstream asks its client for input, without clocks or
/// tasks: which questions are shown when, who gets the reply, when the call is given up.
@Suite struct InputRoundStateMachineTests {
    typealias Machine = InputRoundStateMachine

    static func questions(_ action: Machine.Action) -> [String] {
        guard case .answerWaiter(.inputRequired(let questions)) = action else { return [] }
        return questions.map(\.key)
    }

    @Test func aQuestionAskedWhileTheClientWaitsIsShownAtOnce() {
        var machine = Machine(maximumQuestions: 4)
        let waiting = machine.attach()
        #expect(waiting == .none)
        let (key, action) = machine.ask(method: "sampling/createMessage", params: nil)
        #expect(key == "q1")
        #expect(Self.questions(action) == ["q1"])
        // Shown: the client's request is answered, and nobody waits until its retry.
        let leaving = machine.clientLeft()
        #expect(leaving == .none)
    }

    @Test func questionsAskedBetweenRoundsWaitForTheRetry() {
        var machine = Machine(maximumQuestions: 4)
        _ = machine.attach()
        _ = machine.ask(method: "sampling/createMessage", params: nil)
        // Asked while nobody waits: shown to the next request, with any question still open.
        let secondQuestion = machine.ask(method: "roots/list", params: nil)
        #expect(secondQuestion.action == .none)
        let firstAnswer = machine.answered(key: "q1")
        #expect(firstAnswer)
        let repeatedAnswer = machine.answered(key: "q1")
        #expect(!repeatedAnswer, "an answer is taken once")
        let retry = machine.attach()
        #expect(Self.questions(retry) == ["q2"])
    }

    @Test func theReplyGoesToTheRequestWaitingOrToTheNextOne() {
        var machine = Machine(maximumQuestions: 4)
        _ = machine.attach()
        let finishedWhileWaiting = machine.finished([1])
        #expect(finishedWhileWaiting == .answerWaiter(.final([1])))
        #expect(machine.isDone)

        var later = Machine(maximumQuestions: 4)
        _ = later.attach()
        _ = later.ask(method: "elicitation/create", params: nil)
        let answer = later.answered(key: "q1")
        #expect(answer)
        let finishedAlone = later.finished([2])
        #expect(finishedAlone == .none, "nobody waits: the reply is kept")
        #expect(!later.isDone)
        let retry = later.attach()
        #expect(retry == .answerWaiter(.final([2])))
        #expect(later.isDone)
    }

    @Test func aClientLeavingWhileItWaitsGivesTheCallUp() {
        var machine = Machine(maximumQuestions: 4)
        _ = machine.attach()
        let leavingWhileWaiting = machine.clientLeft()
        #expect(leavingWhileWaiting == .cancelCall)
        // Between rounds (questions shown, no request waiting) leaving is no news.
        var between = Machine(maximumQuestions: 4)
        _ = between.attach()
        _ = between.ask(method: "sampling/createMessage", params: nil)
        let leavingBetweenRounds = between.clientLeft()
        #expect(leavingBetweenRounds == .none)
    }

    @Test func oneRequestWaitsAtATime() {
        var machine = Machine(maximumQuestions: 4)
        _ = machine.attach()
        let secondWaiter = machine.attach()
        #expect(secondWaiter == .refuseBusy)
    }

    @Test func aCallAsksAtMostItsBoundOfQuestions() {
        var machine = Machine(maximumQuestions: 2)
        let first = machine.ask(method: "roots/list", params: nil)
        #expect(first.key == "q1")
        let answer = machine.answered(key: "q1")
        #expect(answer)
        let second = machine.ask(method: "roots/list", params: nil)
        #expect(second.key == "q2")
        let third = machine.ask(method: "roots/list", params: nil)
        #expect(third.key == nil)
        machine.withdraw(key: "q2")
        let retry = machine.attach()
        #expect(Self.questions(retry) == [])
    }
}
