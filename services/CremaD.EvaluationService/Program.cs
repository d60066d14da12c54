var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCremaDEvaluationService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
