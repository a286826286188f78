// A function for the aws-lambda-ric example (see bootstrap). aws-lambda-ric 4.x accepts only
// async (or promise-returning) handlers: a handler that takes a callback fails at init.
exports.handler = async (event, context) => {
  console.log('event', JSON.stringify(event));
  return {
    runtime: 'aws-lambda-ric',
    event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    remaining: context.getRemainingTimeInMillis(),
  };
};

exports.fail = async () => {
  throw new TypeError('failed inside aws-lambda-ric');
};
