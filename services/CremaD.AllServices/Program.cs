using CremaD.Runs;

// The four services' registrations without their buses, then one bus with every consumer: one process, one blob store.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults().AddCremaDSharedBlobStore().AddRunCoordinator().AddRunsApiAccess().AddFeatureShardProcessing().AddTrainingWorker().AddEvaluator();
builder.AddCremaDMessaging(bus => bus.AddRunCoordinatorConsumers().AddFeatureShardConsumer().AddTrainerConsumers().AddEvaluatorConsumers());
var app = builder.Build();
app.MapDefaultEndpoints().MapCremaDRunsApi();
app.Run();
